"""Access rules: who among a project's client-app callers may do what to a resource.

One row per (resource, operation, client role); no row means nobody. The row-level security
policies of records and stored objects read this table directly (``access.policies``), so a
rule takes effect in PostgreSQL the moment it is committed.
"""

import uuid

from django.conf import settings
from django.db import models

from access.constants import ClientRole, Operation, ResourceType, RuleKind


class JSONPathField(models.TextField):
    """A PostgreSQL ``jsonpath`` column (parsed once, on write)."""

    def db_type(self, connection):
        return "jsonpath"

    def get_placeholder(self, value, compiler, connection):
        return "%s::jsonpath"


class AccessRule(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")
    resource_type = models.CharField(max_length=16, choices=ResourceType.choices)
    # A collection's or bucket's id; channels are named instead.
    resource_id = models.UUIDField(null=True, blank=True)
    channel = models.CharField(max_length=120, blank=True, default="")
    operation = models.CharField(max_length=8, choices=Operation.choices)
    client_role = models.CharField(max_length=16, choices=ClientRole.choices)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.NOBODY)
    app_role = models.CharField(max_length=40, blank=True, default="")
    # The condition as written (data API filters, all must hold) and as PostgreSQL runs it.
    conditions = models.JSONField(default=list, blank=True)
    condition = JSONPathField(null=True, blank=True)
    condition_vars = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "project", "resource_id", "operation", "client_role"],
                condition=models.Q(resource_id__isnull=False),
                name="accessrule_unique_resource",
            ),
            models.UniqueConstraint(
                fields=["org", "project", "channel", "operation", "client_role"],
                condition=models.Q(resource_type=ResourceType.CHANNEL),
                name="accessrule_unique_channel",
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "operation", "client_role", "kind"], name="accessrule_lookup"
            )
        ]
        ordering = ["resource_type", "channel", "operation", "client_role"]

    def __str__(self) -> str:
        target = self.channel or self.resource_id
        return f"{self.client_role} {self.operation} on {self.resource_type} {target}: {self.kind}"
