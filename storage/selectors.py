"""Reads for buckets and objects; row-level security scopes them to the org in context."""

from django.db.models import QuerySet

from storage.models import Bucket, StoredObject


def bucket_list(*, project) -> QuerySet[Bucket]:
    return Bucket.objects.filter(project=project).order_by("name")


def bucket_get(*, project, name: str) -> Bucket | None:
    return Bucket.objects.filter(project=project, name=name).first()


def object_list(*, bucket: Bucket, prefix: str = "", limit: int = 1000) -> QuerySet[StoredObject]:
    return (
        StoredObject.objects.select_related("bucket")
        .filter(bucket=bucket, key__startswith=prefix)
        .order_by("key")[:limit]
    )


def object_get(*, bucket: Bucket, key: str) -> StoredObject | None:
    return StoredObject.objects.filter(bucket=bucket, key=key).first()


def object_by_id(*, object_id) -> StoredObject | None:
    return StoredObject.objects.select_related("bucket").filter(pk=object_id).first()


def object_by_id_in_public_bucket(*, bucket_id, key: str) -> StoredObject | None:
    return (
        StoredObject.objects.select_related("bucket")
        .filter(bucket_id=bucket_id, bucket__public=True, key=key)
        .first()
    )
