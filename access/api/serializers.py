from rest_framework import serializers

from access.constants import MAX_CONDITIONS, ClientRole, Operation, ResourceType, RuleKind
from access.models import AccessRule
from access.policies import describe_rule
from datastore.constants import NAME_PATTERN


class RuleSerializer(serializers.ModelSerializer):
    policy = serializers.SerializerMethodField(
        help_text="The condition the PostgreSQL policy amounts to (read-only)."
    )

    class Meta:
        model = AccessRule
        fields = [
            "id",
            "resource_type",
            "resource_id",
            "channel",
            "operation",
            "client_role",
            "kind",
            "app_role",
            "conditions",
            "policy",
            "updated_at",
        ]

    def get_policy(self, rule) -> str:
        return describe_rule(rule)


class RuleQuerySerializer(serializers.Serializer):
    resource_type = serializers.ChoiceField(choices=ResourceType.choices, required=False)
    resource_id = serializers.UUIDField(required=False)
    channel = serializers.CharField(required=False, max_length=120)


class RuleSetSerializer(serializers.Serializer):
    """A rule: the resource by id, or a collection or bucket by name, or a channel."""

    resource_type = serializers.ChoiceField(choices=ResourceType.choices)
    resource_id = serializers.UUIDField(required=False)
    collection = serializers.RegexField(NAME_PATTERN + r"\Z", required=False, max_length=63)
    bucket = serializers.CharField(required=False, max_length=63)
    channel = serializers.CharField(required=False, max_length=120, default="")
    operation = serializers.ChoiceField(choices=Operation.choices)
    client_role = serializers.ChoiceField(choices=ClientRole.choices)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    app_role = serializers.CharField(required=False, max_length=40, default="")
    conditions = serializers.ListField(
        child=serializers.CharField(max_length=500),
        required=False,
        default=list,
        max_length=MAX_CONDITIONS,
    )

    def validate(self, attrs):
        named = [k for k in ("resource_id", "collection", "bucket") if attrs.get(k)]
        kind = attrs["resource_type"]
        if kind == ResourceType.CHANNEL:
            if named:
                raise serializers.ValidationError({named[0]: "A channel rule names a channel."})
            return attrs
        if len(named) != 1:
            raise serializers.ValidationError(
                {"resource_id": "Name the resource once: resource_id, collection or bucket."}
            )
        if named[0] == "collection" and kind != ResourceType.COLLECTION:
            raise serializers.ValidationError({"collection": "Only for resource_type collection."})
        if named[0] == "bucket" and kind != ResourceType.BUCKET:
            raise serializers.ValidationError({"bucket": "Only for resource_type bucket."})
        return attrs
