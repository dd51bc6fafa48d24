"""Error groups (24 h error tracking) and alerting: rules, alerts, channels, deliveries.

Error tables are platform data (operators read them in the Studio); they are written on the
owner connection so that an error inside a rolled-back request transaction is still recorded.
Alerting tables carry ``org_id`` under row-level security: a NULL org means a platform-wide
rule, alert or channel, visible only to the platform admin context the evaluator runs in.
"""

import uuid

from django.db import models

from observability.constants import AlertState, ChannelKind, ErrorSource, RuleKind, Severity


class ErrorGroup(models.Model):
    fingerprint = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=16, choices=ErrorSource.choices)
    exc_type = models.CharField(max_length=200)
    location = models.CharField(max_length=300)
    message = models.TextField(blank=True)
    count = models.PositiveBigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    sample_request_id = models.CharField(max_length=128, blank=True)
    sample_org_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.exc_type} at {self.location}"


class ErrorOccurrence(models.Model):
    """One occurrence, kept 24 h: the rolling window counts these."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="occurrences")
    at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=128, blank=True)
    org_id = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.group_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class AlertChannel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    # Slack/webhook URL, PagerDuty Events API URL, or an email address.
    target = models.CharField(max_length=500)
    # PagerDuty routing key or the webhook signing secret; never returned by the API.
    secret = models.CharField(max_length=200, blank=True)
    min_severity = models.CharField(
        max_length=16, choices=Severity.choices, default=Severity.WARNING
    )
    # 0 = first responders; an unacknowledged alert escalates to the next level.
    escalation_level = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_test_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["escalation_level", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AlertRule(models.Model):
    org = models.ForeignKey("tenants.Organization", null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(max_length=32, choices=RuleKind.choices)
    name = models.CharField(max_length=120)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    threshold = models.FloatField(default=0)
    window_minutes = models.PositiveIntegerField(default=5)
    escalate_after_minutes = models.PositiveIntegerField(default=15)
    runbook_url = models.URLField(max_length=500)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", null=True, blank=True, on_delete=models.CASCADE)
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    dedup_key = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=AlertState.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    summary = models.TextField()
    value = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Deduplication: at most one open (not resolved) alert per key.
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=~models.Q(state="resolved"),
                name="alert_one_open_per_dedup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} [{self.state}]"


class AlertDelivery(models.Model):
    """Every notification sent (or attempted): the trail behind "who was told, when"."""

    org = models.ForeignKey("tenants.Organization", null=True, blank=True, on_delete=models.CASCADE)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    action = models.CharField(max_length=16)  # trigger / escalate / acknowledge / resolve / test
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} via {self.channel_id}: {'ok' if self.ok else 'failed'}"
