from rest_framework import serializers

from observability.constants import ChannelKind, Severity
from observability.models import Alert, AlertChannel


class ChannelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    target = serializers.CharField(max_length=500)
    secret = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    min_severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.WARNING)
    escalation_level = serializers.IntegerField(min_value=0, max_value=10, default=0)

    def validate(self, data):
        if data["kind"] == ChannelKind.EMAIL:
            serializers.EmailField().run_validation(data["target"])
        else:
            serializers.URLField().run_validation(data["target"])
        if data["kind"] == ChannelKind.PAGERDUTY and not data["secret"]:
            raise serializers.ValidationError({"secret": "PagerDuty needs a routing key."})
        return data


class ChannelSerializer(serializers.ModelSerializer):
    """The secret (routing key, signing secret) is write-only."""

    class Meta:
        model = AlertChannel
        fields = [
            "id",
            "name",
            "kind",
            "target",
            "min_severity",
            "escalation_level",
            "enabled",
            "last_test_requested_at",
        ]


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name")
    kind = serializers.CharField(source="rule.kind")
    runbook_url = serializers.CharField(source="rule.runbook_url")

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "kind",
            "dedup_key",
            "state",
            "severity",
            "summary",
            "value",
            "runbook_url",
            "started_at",
            "acknowledged_at",
            "resolved_at",
            "escalation_level",
        ]
