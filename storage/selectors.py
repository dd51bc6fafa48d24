"""Reads for buckets and objects; row-level security scopes them to the org in context (for a
client app: to its project's buckets, and to the objects the access rules show it)."""

from dataclasses import dataclass

from django.db.models import CharField, F, Func, Q, QuerySet, Value
from django.db.models.functions import StrIndex, Substr

from access.constants import SERVICE_ROLE, ResourceType, RuleKind
from access.selectors import resources_opened, rule_for
from storage.models import Bucket, StoredObject
from tenants.context import TenantContext, tenant_context


def bucket_list(*, project) -> QuerySet[Bucket]:
    return Bucket.objects.filter(project=project).order_by("name")


def bucket_get(*, project, name: str) -> Bucket | None:
    return Bucket.objects.filter(project=project, name=name).first()


def bucket_by_id(*, bucket_id) -> Bucket | None:
    return Bucket.objects.filter(pk=bucket_id).first()


def client_bucket_list(*, client) -> QuerySet[Bucket]:
    """The buckets a client app is shown: all of its project's for the secret key; for anon and
    end users, the public ones and those whose "select" rule may let the caller read (who may
    list a bucket's files may know the bucket)."""
    buckets = bucket_list(project=client.project_id)
    if client.role == SERVICE_ROLE:
        return buckets
    opened = resources_opened(
        project_id=client.project_id, operation="select", client_role=client.role,
        app_roles=client.app_roles,
    )  # fmt: skip
    return buckets.filter(Q(public=True) | Q(pk__in=opened))


def public_bucket(*, project_ref: str, name: str) -> Bucket | None:
    """A public bucket named by its project's ref and its name, for URLs that carry no key:
    read under the platform context (no tenant is known yet), public buckets only."""
    with tenant_context(TenantContext(platform_admin=True)):
        return Bucket.objects.filter(project__ref=project_ref, name=name, public=True).first()


class SplitPart(Func):
    function = "split_part"
    output_field = CharField()


@dataclass(frozen=True)
class Entry:
    """A line of a folder listing: an object, or a folder (``obj`` None) below the prefix."""

    name: str
    obj: StoredObject | None = None


SORTABLE = {"name", "created_at", "updated_at"}


def object_folder(
    *, bucket: Bucket, folder: str, search: str = "", limit: int = 100, offset: int = 0,
    sort: str = "name", descending: bool = False,
) -> list[Entry]:  # fmt: skip
    """The objects and folders directly in ``folder`` (a key prefix ending with "/", or "")
    whose name starts with ``search`` (case-insensitive), as Supabase's list shows them:
    folders have no dates and sort as NULLs do in PostgreSQL (last ascending)."""
    start = len(folder) + 1
    rest = Substr("key", start)
    below = (
        StoredObject.objects.filter(bucket=bucket, key__startswith=folder)
        .annotate(rest=rest, slash=StrIndex(rest, Value("/")))
        .filter(rest__istartswith=search)
    )
    window = offset + limit
    folders = (
        below.filter(slash__gt=0)
        .annotate(folder=SplitPart(F("rest"), Value("/"), Value(1)))
        .values_list("folder", flat=True)
        .distinct()
        .order_by("folder")
    )
    order = f"-{sort}" if descending else sort
    files = below.filter(slash=0).order_by(order.replace("name", "key"), "key")
    entries = [Entry(name=o.key[start - 1 :], obj=o) for o in files[:window]]
    folder_entries = [Entry(name=name) for name in folders[:window]]
    if sort == "name":
        entries = sorted(entries + folder_entries, key=lambda e: e.name, reverse=descending)
    else:
        entries = folder_entries + entries if descending else entries + folder_entries
    return entries[offset:window]


def object_list(*, bucket: Bucket, prefix: str = "", limit: int = 1000) -> QuerySet[StoredObject]:
    return (
        StoredObject.objects.select_related("bucket")
        .filter(bucket=bucket, key__startswith=prefix)
        .order_by("key")[:limit]
    )


def objects_at(*, bucket: Bucket, keys: list[str]) -> QuerySet[StoredObject]:
    return StoredObject.objects.select_related("bucket").filter(bucket=bucket, key__in=keys)


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
