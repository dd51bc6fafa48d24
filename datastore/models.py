"""Collections (an org's project defines them) and the JSON records stored in them.

Both tables are tenant-owned. ``Record.owner_only`` is a copy of the collection's access rule
(for org members) kept by a trigger, so the row-level security policy can enforce owner-only
rows by itself. Client apps' access (anon, end users, the secret key) is decided by the
project's access rules (``access``), which the client policies read.
"""

import uuid

from django.conf import settings
from django.db import models

from datastore.constants import Access, Store


class Collection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        "tenants.Project", on_delete=models.CASCADE, related_name="collections"
    )
    name = models.CharField(max_length=63)
    store = models.CharField(max_length=16, choices=Store.choices, default=Store.RECORDS)
    json_schema = models.JSONField(null=True, blank=True)
    indexes = models.JSONField(default=list, blank=True)
    access = models.CharField(max_length=8, choices=Access.choices, default=Access.ORG)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "project", "store", "name"], name="collection_unique_project_name"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Record(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")
    # The database's constraint is composite, (org_id, collection_id) -> (org_id, id): see
    # docs/scaling.md (Citus). Django cascades in Python as before.
    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="records", db_constraint=False
    )
    # A developer's row (``owner``), or a client app's: ``end_user`` is the signed-in end user
    # who created it (filled by the database from the transaction's context, NULL for anon and
    # the secret key).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", null=True
    )
    # The database sets it NULL when the end user is deleted (datastore migration 0003).
    end_user = models.ForeignKey(
        "endusers.EndUser",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        null=True,
        blank=True,
    )
    owner_only = models.BooleanField(default=False)
    data = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["collection", "created_at", "id"], name="record_coll_created"),
            # Owner-only lists of a client app: (collection, end user, order key, id).
            models.Index(
                fields=["collection", "end_user", "created_at", "id"],
                name="record_coll_enduser",
                condition=models.Q(end_user__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class BackupRun(models.Model):
    """One run of ``manage.py backup``: platform-wide, not tenant-owned (Studio shows it)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "Verified"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    path = models.CharField(max_length=500, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    tables = models.JSONField(default=dict, blank=True)
    mongo_documents = models.IntegerField(default=0)
    verified = models.BooleanField(default=False)
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"backup {self.pk} ({self.status})"
