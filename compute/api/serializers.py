from rest_framework import serializers

from compute.constants import EVENTS, JobTarget
from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery


class WebhookSerializer(serializers.ModelSerializer):
    secret_hint = serializers.SerializerMethodField()

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "collection", "active", "secret_hint", "created_at"]

    def get_secret_hint(self, webhook) -> str:
        return "..." + webhook.secret[-4:]


class WebhookCreatedSerializer(WebhookSerializer):
    """Only the answer to a create shows the whole signing secret."""

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), allow_empty=False, max_length=3
    )
    collection = serializers.RegexField(
        r"^([A-Za-z][A-Za-z0-9_]{0,62})?$", required=False, default="", allow_blank=True
    )
    active = serializers.BooleanField(required=False, default=True)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event", "status", "attempts", "response_status", "last_error",
            "request_id", "payload", "created_at", "delivered_at",
        ]  # fmt: skip


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduledJob
        fields = [
            "id", "name", "schedule", "target", "url", "function_name", "payload", "enabled",
            "created_at",
        ]  # fmt: skip


class JobCreatedSerializer(JobSerializer):
    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "secret"]


class JobInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    schedule = serializers.CharField(max_length=100, help_text="minute hour day month weekday")
    target = serializers.ChoiceField(choices=JobTarget.choices, required=False, default="url")
    url = serializers.URLField(max_length=500, required=False, default="")
    function_name = serializers.RegexField(
        r"^([a-z][a-z0-9-]{0,62})?$", required=False, default="", allow_blank=True
    )
    payload = serializers.JSONField(required=False, default=dict)
    enabled = serializers.BooleanField(required=False, default=True)


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = ["id", "started_at", "succeeded", "response_status", "error", "duration_ms"]
