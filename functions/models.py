"""Serverless functions: a project's named function, its immutable versions, its invocations.

All three tables are tenant-owned (org_id + RLS, see the migration). A version is never
changed once written: a deploy adds one (or points back at the version with the same content
hash), a rollback moves ``Function.active_version``. ``Function.env`` holds the function's
variables and secrets: written through the API, never returned by it, never logged.
"""

import uuid

from django.conf import settings
from django.db import models

from functions.constants import DEFAULT_TIMEOUT_SECONDS, ExitReason, Trigger


class Function(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=63)
    # The database's constraint is composite, (org_id, active_version_id) -> (org_id, id): see
    # docs/scaling.md (Citus). Django cascades in Python as before.
    active_version = models.ForeignKey(
        "FunctionVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    env = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=DEFAULT_TIMEOUT_SECONDS)
    # Record changes that invoke it: events (insert/update/delete) of a collection ("" = all).
    record_events = models.JSONField(default=list, blank=True)
    record_collection = models.CharField(max_length=63, blank=True, default="")
    # Hosts ("host" for ports 80 and 443, or "host:port") its fetch may reach; none by default.
    egress_hosts = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["org", "project", "name"], name="function_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class FunctionVersion(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    # The database's constraint is composite, (org_id, function_id) -> (org_id, id): see
    # docs/scaling.md (Citus). Django cascades in Python as before.
    function = models.ForeignKey(
        Function, on_delete=models.CASCADE, related_name="versions", db_constraint=False
    )
    number = models.PositiveIntegerField()
    source = models.TextField()
    source_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "function", "number"], name="version_unique_number"
            ),
            models.UniqueConstraint(
                fields=["org", "function", "source_hash"], name="version_unique_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.function.name} v{self.number}"


class Invocation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    # The database's constraints are composite, (org_id, function_id) and (org_id, version_id)
    # -> (org_id, id): see docs/scaling.md (Citus). Django cascades in Python as before.
    function = models.ForeignKey(
        Function, on_delete=models.CASCADE, related_name="invocations", db_constraint=False
    )
    version = models.ForeignKey(
        FunctionVersion,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    caller = models.JSONField(default=dict, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    exit_reason = models.CharField(max_length=24, choices=ExitReason.choices)
    duration_ms = models.FloatField(null=True, blank=True)
    cpu_ms = models.FloatField(null=True, blank=True)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    stdout = models.TextField(blank=True, default="")
    stderr = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["function", "-created_at"], name="invocation_function_recent")
        ]

    def __str__(self) -> str:
        return f"{self.function.name} {self.trigger}: {self.exit_reason}"
