"""Reads for buckets and objects; row-level security scopes them to the org in context (for a
client app: to its project's buckets, and to the objects the access rules show it)."""

from django.db.models import QuerySet

from access.constants import SERVICE_ROLE, ResourceType, RuleKind
from access.selectors import rule_for
from storage.models import Bucket, StoredObject
from tenants.context import TenantContext, tenant_context


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
    return StoredObject.objects.select_related("bucket").filter(bucket=bucket, key=key).first()


def object_by_id(*, object_id) -> StoredObject | None:
    return StoredObject.objects.select_related("bucket").filter(pk=object_id).first()


def object_by_id_in_public_bucket(*, bucket_id, key: str) -> StoredObject | None:
    return (
        StoredObject.objects.select_related("bucket")
        .filter(bucket_id=bucket_id, bucket__public=True, key=key)
        .first()
    )


def client_rule_opens(*, client, bucket: Bucket, operation: str) -> bool:
    """Could the bucket's rule for ``operation`` allow this client anything at all? (No rule,
    "nobody", or an app role the caller lacks: no.) Tells a refusal (403) from a list the
    rules merely filter."""
    if client.role == SERVICE_ROLE:
        return True
    rule = rule_for(
        project_id=client.project_id, operation=operation, client_role=client.role,
        resource_id=bucket.pk,
    )  # fmt: skip
    if rule is None or rule.resource_type != ResourceType.BUCKET or rule.kind == RuleKind.NOBODY:
        return False
    return rule.kind != RuleKind.ROLE or rule.app_role in client.app_roles


def public_object(*, bucket: Bucket, key: str) -> StoredObject | None:
    """An object of a public bucket, whoever asks (public buckets are public for downloads)."""
    if not bucket.public:
        return None
    with tenant_context(TenantContext(org_id=bucket.org_id)):
        return object_by_id_in_public_bucket(bucket_id=bucket.pk, key=key)
