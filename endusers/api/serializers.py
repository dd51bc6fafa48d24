"""Input and output of the end users' auth API (client routes) and the developers' routes."""

from rest_framework import serializers

from endusers.services.sessions import SIGNOUT_SCOPES
from tenants.models import ProjectKey


class StrictInput(serializers.Serializer):
    """Refuses fields it does not know: a client never sets app_metadata, roles, an end user's
    id or a project by adding them to a body, and a typo is an error, not a silent no-op."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data or {}) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: "Unknown or read-only field." for name in unknown}
            )
        return attrs

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": "A JSON object."})
        return super().to_internal_value(data)


def _password(**kw):
    return serializers.CharField(trim_whitespace=False, max_length=4096, **kw)


class SignupInput(StrictInput):
    email = serializers.EmailField(max_length=254)
    password = _password()
    user_metadata = serializers.DictField(required=False)


class SigninInput(StrictInput):
    email = serializers.EmailField(max_length=254)
    password = _password()


class ClientRefreshInput(StrictInput):
    refresh_token = serializers.CharField(max_length=512)


class SignoutInput(StrictInput):
    scope = serializers.ChoiceField(choices=SIGNOUT_SCOPES, default="local")


class UserUpdateInput(StrictInput):
    user_metadata = serializers.DictField(required=False)
    email = serializers.EmailField(max_length=254, required=False)
    password = _password(required=False)


class TokenInput(StrictInput):
    token = serializers.CharField(max_length=2048)


class RecoverInput(StrictInput):
    email = serializers.EmailField(max_length=254)


class ResetInput(StrictInput):
    token = serializers.CharField(max_length=2048)
    password = _password()


class EndUserOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.CharField()
    is_anonymous = serializers.BooleanField()
    user_metadata = serializers.DictField()
    app_metadata = serializers.DictField()
    created_at = serializers.DateTimeField()
    email_confirmed_at = serializers.DateTimeField(allow_null=True)
    last_sign_in_at = serializers.DateTimeField(allow_null=True)


class AdminEndUserOutput(EndUserOutput):
    banned_until = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class ClientSessionOutput(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    expires_at = serializers.IntegerField()
    user = EndUserOutput()


class SignupOutput(serializers.Serializer):
    """``session`` is null while the email awaits confirmation (sign-up mode ``confirm``)."""

    user = EndUserOutput()
    session = ClientSessionOutput(allow_null=True)


class ClientDetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class AdminCreateInput(StrictInput):
    email = serializers.EmailField(max_length=254)
    password = _password(required=False)
    user_metadata = serializers.DictField(required=False)
    app_metadata = serializers.DictField(required=False)
    email_confirmed = serializers.BooleanField(required=False, default=False)


class AdminUpdateInput(StrictInput):
    """The project's own changes (secret key or developer)."""

    app_metadata = serializers.DictField(required=False)
    user_metadata = serializers.DictField(required=False)
    banned_until = serializers.DateTimeField(required=False, allow_null=True)
    email_confirmed = serializers.BooleanField(required=False)


class DeveloperUpdateInput(AdminUpdateInput):
    user_metadata = None  # the end user's own; developers change app_metadata


class EndUserSessionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()


class AuthSettingsSerializer(serializers.Serializer):
    signup = serializers.ChoiceField(choices=["open", "confirm", "closed"], required=False)
    anonymous_sign_in = serializers.BooleanField(required=False)
    site_url = serializers.URLField(required=False, allow_blank=True, max_length=200)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


class AuthSettingsInput(StrictInput, AuthSettingsSerializer):
    pass


class KeyOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class KeyCreatedOutput(KeyOutput):
    key = serializers.CharField(help_text="The key itself: shown this once, never again.")


class KeyInput(StrictInput):
    kind = serializers.ChoiceField(choices=ProjectKey.Kind.choices)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
