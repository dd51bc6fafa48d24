from rest_framework import serializers


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    session_id = serializers.UUIDField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField()


class AccessTokenSerializer(serializers.Serializer):
    access = serializers.CharField()
    session_id = serializers.UUIDField()
    expires_in = serializers.IntegerField()


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, default="")
    last_name = serializers.CharField(max_length=150, required=False, default="")


class LoginInput(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=512)


class MembershipOutput(serializers.Serializer):
    org_id = serializers.UUIDField(source="org.id")
    org_slug = serializers.CharField(source="org.slug")
    org_name = serializers.CharField(source="org.name")
    role = serializers.CharField()


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email_verified = serializers.BooleanField()
    active_org = serializers.CharField(allow_null=True)
    role = serializers.CharField(allow_null=True)
    memberships = MembershipOutput(many=True)


class MeInput(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class PasswordChangeInput(serializers.Serializer):
    current_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)


class PasswordResetInput(serializers.Serializer):
    email = serializers.CharField(max_length=254)


class PasswordResetConfirmInput(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)


class EmailVerifyConfirmInput(serializers.Serializer):
    token = serializers.CharField(max_length=512)


class SwitchOrgInput(serializers.Serializer):
    org = serializers.CharField(max_length=63)


class SessionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    current = serializers.SerializerMethodField()

    def get_current(self, obj) -> bool:
        return str(obj.id) == self.context.get("current_session_id")


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()
