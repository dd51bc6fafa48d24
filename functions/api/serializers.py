from rest_framework import serializers

from functions.constants import (
    MAX_EGRESS_HOSTS,
    MAX_TIMEOUT_SECONDS,
    NAME_PATTERN,
    RECORD_EVENTS,
)
from functions.models import Function, FunctionVersion, Invocation


class VersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = FunctionVersion
        fields = ["number", "source_hash", "created_at"]


class VersionDetailSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "source"]


class FunctionSerializer(serializers.ModelSerializer):
    """Env values are write-only: only their names are shown."""

    active_version = VersionSerializer(allow_null=True)
    env_names = serializers.SerializerMethodField()

    class Meta:
        model = Function
        fields = [
            "id", "name", "active_version", "env_names", "timeout_seconds", "record_events",
            "record_collection", "egress_hosts", "created_at", "updated_at",
        ]  # fmt: skip

    def get_env_names(self, function) -> list[str]:
        return sorted(function.env)


class ConfigSerializer(serializers.Serializer):
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=MAX_TIMEOUT_SECONDS, required=False
    )
    record_events = serializers.ListField(
        child=serializers.ChoiceField(choices=RECORD_EVENTS), required=False, max_length=3
    )
    record_collection = serializers.RegexField(
        r"^([A-Za-z][A-Za-z0-9_]{0,62})?$", required=False, allow_blank=True
    )
    egress_hosts = serializers.ListField(
        child=serializers.CharField(max_length=260),
        required=False,
        max_length=MAX_EGRESS_HOSTS,
        help_text='Hosts its fetch may reach: "host" (ports 80 and 443) or "host:port".',
    )


class DeploySerializer(ConfigSerializer):
    name = serializers.RegexField(NAME_PATTERN, max_length=63)
    source = serializers.CharField(trim_whitespace=False)


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class InvocationSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", allow_null=True, default=None)

    class Meta:
        model = Invocation
        fields = [
            "id", "version", "trigger", "caller", "status", "exit_reason", "duration_ms",
            "cpu_ms", "peak_memory_bytes", "request_id", "stdout", "stderr", "created_at",
        ]  # fmt: skip
