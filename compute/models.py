"""Database webhooks: an org's project POSTs its record changes to a URL of its choosing.

Both tables are tenant-owned (org_id + RLS, see the migration). A delivery keeps the exact
body that was signed, every attempt's outcome, and the request id of the write that caused
it, so an operator can follow one change from the API call to the receiver.
"""

import uuid

from django.conf import settings
from django.db import models

from compute.constants import DeliveryStatus, JobTarget


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")
    # Empty: every collection of the project.
    collection = models.CharField(max_length=63, blank=True, default="")
    events = models.JSONField(default=list)
    url = models.URLField(max_length=500)
    # Shared with the receiver to verify X-Platform-Signature; shown in full once, at creation.
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    # The database's constraint is composite, (org_id, webhook_id) -> (org_id, id): see
    # docs/scaling.md (Citus). Django cascades in Python as before.
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    event = models.CharField(max_length=16)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_recent")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.webhook.url}: {self.status}"


class ScheduledJob(models.Model):
    """A project's cron job: on schedule, a signed POST of ``payload`` to ``url``, or (target
    "function") an invocation of one of the project's functions with ``payload``.

    django-celery-beat's PeriodicTask (a platform table, not tenant data) carries the schedule;
    the job row, the URL, the secret and every run stay in RLS-protected tables.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    schedule = models.CharField(max_length=100, help_text="Cron: minute hour day month weekday")
    # "url": a signed POST to ``url``; "function": an invocation of the project's function.
    target = models.CharField(max_length=16, choices=JobTarget.choices, default=JobTarget.URL)
    function_name = models.CharField(max_length=63, blank=True, default="")
    url = models.URLField(max_length=500, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    secret = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    periodic_task = models.ForeignKey(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "project", "name"], name="job_unique_project_name"
            ),
            # One job per beat entry (each is named after its job); with org_id, so the
            # table stays distributable by it.
            models.UniqueConstraint(
                fields=["org", "periodic_task"], name="job_unique_periodic_task"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schedule})"


class JobRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    # The database's constraint is composite, (org_id, job_id) -> (org_id, id): see
    # docs/scaling.md (Citus). Django cascades in Python as before.
    job = models.ForeignKey(
        ScheduledJob, on_delete=models.CASCADE, related_name="runs", db_constraint=False
    )
    started_at = models.DateTimeField(auto_now_add=True)
    succeeded = models.BooleanField(default=False)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.job.name} at {self.started_at:%Y-%m-%d %H:%M}"
