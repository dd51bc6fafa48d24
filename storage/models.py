"""File storage: buckets of objects per project, bytes in a Django storage backend
(the local filesystem in development, S3 or compatible through django-storages in production),
metadata in tenant tables under row-level security."""

import uuid

from django.conf import settings
from django.db import models


class Bucket(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=63)
    # Public buckets are served to anyone with the object's URL, with long-lived cache headers.
    public = models.BooleanField(default=False)
    # HTML, SVG and other active types are downloads (Content-Disposition: attachment) unless
    # this is on AND the request came to STORAGE_DELIVERY_ORIGIN; even then they are sandboxed.
    inline_delivery = models.BooleanField(default=False)
    max_file_size = models.PositiveBigIntegerField(default=50 * 1024 * 1024)
    allowed_content_types = models.JSONField(default=list, blank=True)  # empty: any
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "project", "name"], name="bucket_unique_project_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class StoredObject(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    # The database's constraint is composite, (org_id, bucket_id) -> (org_id, id): see
    # docs/scaling.md (Citus). Django cascades in Python as before.
    bucket = models.ForeignKey(
        Bucket, on_delete=models.CASCADE, related_name="stored_objects", db_constraint=False
    )
    key = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    # Where the bytes live in the storage backend (content-addressed per org).
    blob = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # A client app's object: the signed-in end user who uploaded it (the database fills it from
    # the transaction's context and sets it NULL when the end user is deleted).
    end_user = models.ForeignKey(
        "endusers.EndUser",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "bucket", "key"], name="object_unique_bucket_key"
            )
        ]

    def __str__(self) -> str:
        return self.key
