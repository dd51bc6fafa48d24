"""Buckets and objects: uploads are checked against the bucket's rules, hashed, and stored
content-addressed per org (identical bytes are kept once); downloads are served with ETag,
Range and cache headers, by signed URL or, for public buckets, by a plain URL.

Developers write with their membership's permissions (``object_put``...); client apps with
``client_object_put``... under the project's access rules for the bucket, which PostgreSQL's
row-level security applies (storage migration 0003): a write the rules refuse changes no row
and raises ``PermissionDenied``.
"""

import hashlib
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from access.constants import SERVICE_ROLE
from authn.audit import audit_org_write, audit_record
from authn.constants import AuditAction
from platform_site.errors import unique_violation_is_invalid
from storage import selectors
from storage.models import Bucket, StoredObject
from tenants import constants
from tenants.context import TenantContext, tenant_context
from tenants.permissions import require_org_perm

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/ ]{0,499}$")
# type/subtype as RFC 6838 names them (lower-cased before the match); fits StoredObject's column.
CONTENT_TYPE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
CONTENT_TYPE_MAX_LENGTH = 100
SIGNING_SALT = "storage.object"
UPLOAD_SIGNING_SALT = "storage.upload"
DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024


class FileTooLarge(ValidationError):
    """A file over its bucket's ``max_file_size`` (a 400 here, Supabase's clients expect 413)."""

    def __init__(self, bucket: Bucket):
        super().__init__({"file": f"Larger than this bucket's {bucket.max_file_size} bytes."})


def clean_key(key: str) -> str:
    if not KEY_PATTERN.match(key) or ".." in key.split("/") or "//" in key:
        raise ValidationError({"key": "Letters, digits, '._- /', not starting with '/', no '..'."})
    return key


@transaction.atomic
def bucket_create(
    *, membership, project, name: str, public: bool = False, inline_delivery: bool = False,
    max_file_size: int | None = None, allowed_content_types: list[str] | None = None,
) -> Bucket:  # fmt: skip
    require_org_perm(membership, constants.MANAGE_BUCKETS)
    bucket = _bucket_insert(
        org_id=membership.org_id, project_id=project.pk, name=name, public=public,
        inline_delivery=inline_delivery, max_file_size=max_file_size,
        allowed_content_types=allowed_content_types,
    )  # fmt: skip
    audit_org_write(
        membership=membership,
        action=AuditAction.BUCKET_CREATE,
        target=bucket,
        metadata={"name": name, "public": public},
    )
    return bucket


def _bucket_insert(
    *, org_id, project_id, name: str, public: bool, inline_delivery: bool,
    max_file_size: int | None, allowed_content_types: list[str] | None,
) -> Bucket:  # fmt: skip
    taken = "A bucket with this name already exists."
    with unique_violation_is_invalid("name", taken):  # the unique index decides, races included
        return Bucket.objects.create(
            org_id=org_id,
            project_id=project_id,
            name=name,
            public=public,
            inline_delivery=inline_delivery,
            max_file_size=max_file_size or DEFAULT_MAX_FILE_SIZE,
            allowed_content_types=allowed_content_types or [],
        )


@transaction.atomic
def bucket_delete(*, membership, bucket: Bucket) -> None:
    require_org_perm(membership, constants.MANAGE_BUCKETS)
    blobs = set(bucket.stored_objects.values_list("blob", flat=True))
    audit_org_write(
        membership=membership,
        action=AuditAction.BUCKET_DELETE,
        target=bucket,
        metadata={"name": bucket.name, "objects": len(blobs)},
    )
    bucket.delete()
    _drop_unreferenced(blobs)


@transaction.atomic
def object_put(*, membership, bucket: Bucket, key: str, upload) -> StoredObject:
    """Store ``upload`` (a Django UploadedFile) at ``key``, replacing what was there."""
    require_org_perm(membership, constants.WRITE_DATA)
    content_type, sha, blob = _store_blob(bucket, key, upload)
    previous = StoredObject.objects.filter(bucket=bucket, key=key).first()
    obj, _ = StoredObject.objects.update_or_create(
        bucket=bucket,
        key=key,
        defaults={
            "org": bucket.org,
            "size": upload.size,
            "content_type": content_type,
            "sha256": sha,
            "blob": blob,
            "owner": membership.user,
        },
    )
    if previous is not None and previous.blob != blob:
        _drop_unreferenced({previous.blob})
    audit_org_write(
        membership=membership,
        action=AuditAction.OBJECT_PUT,
        target=obj,
        metadata={"bucket": bucket.name, "key": key[:200], "size": obj.size},
    )
    return obj


def _store_blob(bucket: Bucket, key: str, upload) -> tuple[str, str, str]:
    """Check ``upload`` against the bucket's rules and keep its bytes content-addressed:
    (content type, sha256, blob path)."""
    clean_key(key)
    content_type = _check_bucket_rules(bucket, upload.size, upload.content_type)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    sha = digest.hexdigest()
    blob = f"objects/{bucket.org_id}/{sha[:2]}/{sha}"
    if not default_storage.exists(blob):
        upload.seek(0)
        default_storage.save(blob, upload)
    return content_type, sha, blob


def _check_bucket_rules(bucket: Bucket, size: int, declared_type: str | None) -> str:
    """The object's content type, once its size and type are ones the bucket takes."""
    if size > bucket.max_file_size:
        raise FileTooLarge(bucket)
    content_type = _clean_content_type(declared_type)
    allowed = bucket.allowed_content_types
    if allowed and not any(_type_matches(content_type, pattern) for pattern in allowed):
        raise ValidationError({"file": f"Content type {content_type} is not allowed here."})
    return content_type


def _clean_content_type(declared: str | None) -> str:
    content_type = (declared or "application/octet-stream").split(";")[0].strip().lower()
    if len(content_type) > CONTENT_TYPE_MAX_LENGTH or not CONTENT_TYPE_PATTERN.match(content_type):
        raise ValidationError({"file": "The file's content type is not a type/subtype media type."})
    return content_type


def _type_matches(content_type: str, pattern: str) -> bool:
    pattern = pattern.lower()
    if pattern.endswith("/*"):
        return content_type.startswith(pattern[:-1])
    return content_type == pattern


@transaction.atomic
def object_delete(*, membership, obj: StoredObject) -> None:
    require_org_perm(membership, constants.WRITE_DATA)
    audit_org_write(
        membership=membership,
        action=AuditAction.OBJECT_DELETE,
        target=obj,
        metadata={"key": obj.key[:200]},
    )
    blob = obj.blob
    obj.delete()
    _drop_unreferenced({blob})


def _drop_unreferenced(blobs: set[str], *, org_id=None) -> None:
    """Delete blobs no object of the org refers to any more (after the rows commit).

    A client app sees only the objects its rules show it, so for one (``org_id`` given) the
    check looks at every object of the org."""
    if org_id is not None:
        with tenant_context(TenantContext(org_id=org_id)):
            _drop_unreferenced(blobs)
        return
    still_used = set(StoredObject.objects.filter(blob__in=blobs).values_list("blob", flat=True))
    for blob in blobs - still_used:
        transaction.on_commit(lambda b=blob: default_storage.delete(b))


@dataclass(frozen=True)
class SignedTarget:
    org_id: str
    object_id: str
    expires_at: int


def signed_token(*, membership, obj: StoredObject, expires_in: int) -> str:
    """A URL token that opens ``obj`` without an API token until it expires: a key handed out,
    so it is audited like a write."""
    require_org_perm(membership, constants.VIEW_DATA)
    expires_in = _signed_lifetime(expires_in)
    audit_org_write(
        membership=membership,
        action=AuditAction.OBJECT_URL_SIGN,
        target=obj,
        metadata={"key": obj.key[:200], "expires_in": expires_in},
    )
    return _sign(obj, expires_in)


def _signed_lifetime(expires_in: int) -> int:
    return max(1, min(int(expires_in), 7 * 24 * 3600))


def _sign(obj: StoredObject, expires_in: int) -> str:
    return signing.dumps(
        {"org": str(obj.org_id), "o": str(obj.pk), "exp": int(time.time()) + expires_in},
        salt=SIGNING_SALT,
        compress=True,
    )


class SignatureExpired(Exception):
    pass


def read_signed_token(token: str) -> SignedTarget:
    """Raises ``signing.BadSignature`` for a forged token, ``SignatureExpired`` after expiry."""
    data = signing.loads(token, salt=SIGNING_SALT)
    if int(data["exp"]) < time.time():
        raise SignatureExpired
    return SignedTarget(data["org"], data["o"], int(data["exp"]))


class BadToken(Exception):
    """A forged or garbled token, or one whose object is gone."""


def signed_object(token: str):
    """The object a signed token opens, and the Cache-Control to serve it with; raises
    ``SignatureExpired`` or ``BadToken``."""
    try:
        target = read_signed_token(token)
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadToken from exc
    with tenant_context(TenantContext(org_id=target.org_id)):
        obj = selectors.object_by_id(object_id=target.object_id)
    if obj is None:
        raise BadToken
    # A browser may keep it a minute, never past the URL's expiry.
    max_age = max(0, min(60, target.expires_at - int(time.time())))
    return obj, f"private, max-age={max_age}"


def public_cache_seconds() -> int:
    return settings.STORAGE_PUBLIC_CACHE_SECONDS


# --- client apps: the access rules decide, in PostgreSQL ----------------------------------------
RLS_REFUSED = "42501"  # insufficient_privilege: a policy's WITH CHECK, or the guard trigger


def _refused(exc: DatabaseError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == RLS_REFUSED


def _client_audit(client, action: str, target, metadata: dict) -> None:
    audit_record(
        action=action,
        org_id=client.org_id,
        target_type=target._meta.model_name,
        target_id=target.pk,
        metadata={
            **metadata,
            "client_role": client.role,
            "end_user_id": str(client.end_user_id) if client.end_user_id else None,
        },
    )


class ObjectExists(Exception):
    """The key is taken, and the write was not allowed to overwrite it."""


@transaction.atomic
def client_object_put(
    *, client, bucket: Bucket, key: str, upload, upsert: bool = True
) -> tuple[StoredObject, bool]:
    """Store ``upload`` at ``key`` for a client app: an insert (the rules' "insert") or, over an
    object the caller sees and ``upsert``, an overwrite ("update"). (object, created)."""
    previous = StoredObject.objects.filter(bucket=bucket, key=key).first()
    _client_may_write(client, bucket, previous, upsert)  # before any byte is stored
    content_type, sha, blob = _store_blob(bucket, key, upload)
    fields = {"size": upload.size, "content_type": content_type, "sha256": sha, "blob": blob}
    obj, created = _client_write(client, bucket, key, previous, fields)
    _client_audit(
        client, AuditAction.OBJECT_PUT, obj,
        {"bucket": bucket.name, "key": key[:200], "size": obj.size, "created": created},
    )  # fmt: skip
    return obj, created


def _client_may_write(client, bucket: Bucket, previous: StoredObject | None, upsert: bool) -> None:
    if previous is not None and not upsert:
        raise ObjectExists
    operation = "insert" if previous is None else "update"
    # A caller no rule opens the bucket to keeps nothing here.
    if not selectors.client_rule_opens(client=client, bucket=bucket, operation=operation):
        raise PermissionDenied(f"The access rules do not allow '{operation}' on this bucket.")


def _client_write(client, bucket: Bucket, key: str, previous, fields: dict):
    """Insert the object at ``key``, or update ``previous``, as the row-level security of the
    client's transaction lets it; a refusal changes no row. (object, created)."""
    try:
        with transaction.atomic():
            if previous is None:
                obj = StoredObject.objects.create(org_id=bucket.org_id, bucket=bucket, key=key,
                                                  **fields)  # fmt: skip
                obj.end_user_id = client.end_user_id  # what the trigger stored
                created = True
            else:
                changed = StoredObject.objects.filter(pk=previous.pk).update(
                    **fields, updated_at=timezone.now()
                )
                if not changed:
                    raise PermissionDenied("The access rules do not let you overwrite this file.")
                obj = StoredObject.objects.select_related("bucket").get(pk=previous.pk)
                created = False
    except IntegrityError:  # the key is taken by an object the caller's rules do not show
        raise PermissionDenied("The access rules do not let you write this file.") from None
    except DatabaseError as exc:
        if not _refused(exc):
            raise
        raise PermissionDenied("The access rules do not let you write this file.") from None
    if previous is not None and previous.blob != fields["blob"]:
        _drop_unreferenced({previous.blob}, org_id=bucket.org_id)
    return obj, created


@transaction.atomic
def client_object_copy(
    *, client, obj: StoredObject, bucket: Bucket, key: str, upsert: bool = False
) -> StoredObject:
    """A new object at ``key`` in ``bucket`` (the caller's project's) with ``obj``'s bytes,
    which are not copied: content addressing keeps them once. The destination bucket's rules
    ("insert", or "update" to overwrite) and limits apply; the copy is the caller's."""
    clean_key(key)
    content_type = _check_bucket_rules(bucket, obj.size, obj.content_type)
    previous = StoredObject.objects.filter(bucket=bucket, key=key).first()
    _client_may_write(client, bucket, previous, upsert)
    fields = {"size": obj.size, "content_type": content_type, "sha256": obj.sha256,
              "blob": obj.blob}  # fmt: skip
    copy, _ = _client_write(client, bucket, key, previous, fields)
    _client_audit(
        client, AuditAction.OBJECT_COPY, copy,
        {"from": f"{obj.bucket.name}/{obj.key}"[:200], "to": f"{bucket.name}/{key}"[:200]},
    )  # fmt: skip
    return copy


@transaction.atomic
def client_object_move(*, client, obj: StoredObject, key: str) -> StoredObject:
    """Rename an object the caller sees within its bucket, if the "update" rule allows it
    both before and after: the object keeps its bytes and its owner."""
    clean_key(key)
    try:
        with transaction.atomic():
            changed = StoredObject.objects.filter(pk=obj.pk).update(
                key=key, updated_at=timezone.now()
            )
    except IntegrityError:
        raise ObjectExists from None
    except DatabaseError as exc:
        if not _refused(exc):
            raise
        changed = 0
    if not changed:
        raise PermissionDenied("The access rules do not let you move this file.")
    _client_audit(client, AuditAction.OBJECT_MOVE, obj, {"from": obj.key[:200], "to": key[:200]})
    obj.key = key
    return obj


@transaction.atomic
def client_object_delete(*, client, obj: StoredObject) -> None:
    """Delete an object the caller sees, if its rules allow ("delete")."""
    deleted, _ = StoredObject.objects.filter(pk=obj.pk).delete()
    if not deleted:
        raise PermissionDenied("The access rules do not let you delete this file.")
    _client_audit(client, AuditAction.OBJECT_DELETE, obj, {"key": obj.key[:200]})
    _drop_unreferenced({obj.blob}, org_id=obj.org_id)


@transaction.atomic
def client_objects_delete(*, client, bucket: Bucket, keys: list[str]) -> list[StoredObject]:
    """Delete the objects at ``keys`` that the caller sees and its "delete" rule lets it
    delete; the others stay, unreported. The deleted objects."""
    found = list(StoredObject.objects.filter(bucket=bucket, key__in=keys))
    ids = [obj.pk for obj in found]
    StoredObject.objects.filter(pk__in=ids).delete()
    kept = set(StoredObject.objects.filter(pk__in=ids).values_list("pk", flat=True))
    deleted = [obj for obj in found if obj.pk not in kept]
    if deleted:
        _client_audit(
            client, AuditAction.OBJECT_DELETE, bucket,
            {"bucket": bucket.name, "count": len(deleted),
             "keys": [obj.key[:200] for obj in deleted[:20]]},
        )  # fmt: skip
        _drop_unreferenced({obj.blob for obj in deleted}, org_id=bucket.org_id)
    return deleted


def client_signed_token(*, client, obj: StoredObject, expires_in: int) -> str:
    """A signed URL of an object the caller's "select" rule shows it (the caller found ``obj``
    under its row-level security), audited like the developers' ones."""
    expires_in = _signed_lifetime(expires_in)
    _client_audit(
        client, AuditAction.OBJECT_URL_SIGN, obj, {"key": obj.key[:200], "expires_in": expires_in}
    )
    return _sign(obj, expires_in)


# --- signed upload URLs ---------------------------------------------------------------------
UPLOAD_URL_SECONDS = 2 * 3600  # as long as Supabase's


@dataclass(frozen=True)
class UploadGrant:
    """What a signed upload URL lets its holder do: upload to one key of one bucket, as the
    client that signed it (its role, end user and app roles: its rules, its ownership)."""

    org_id: str
    project_id: str
    bucket_id: str
    key: str
    role: str
    end_user_id: str | None
    app_roles: tuple[str, ...]
    upsert: bool
    expires_at: int

    def tenant_context(self) -> TenantContext:
        return TenantContext(
            org_id=self.org_id, project_id=self.project_id, end_user_id=self.end_user_id,
            client_role=self.role, end_user_roles=self.app_roles,
        )  # fmt: skip


def client_upload_token(*, client, bucket: Bucket, key: str, upsert: bool) -> str:
    """A token for one upload to ``key`` by whoever holds it, within ``UPLOAD_URL_SECONDS``:
    only for a caller whose rules open the bucket to that upload ("insert")."""
    clean_key(key)
    if not selectors.client_rule_opens(client=client, bucket=bucket, operation="insert"):
        raise PermissionDenied("The access rules do not allow 'insert' on this bucket.")
    _client_audit(
        client, AuditAction.OBJECT_URL_SIGN, bucket,
        {"key": key[:200], "upload": True, "expires_in": UPLOAD_URL_SECONDS},
    )  # fmt: skip
    payload = {
        "org": str(bucket.org_id), "p": str(client.project_id), "b": str(bucket.pk), "k": key,
        "r": client.role, "u": str(client.end_user_id) if client.end_user_id else None,
        "a": list(client.app_roles), "up": upsert, "exp": int(time.time()) + UPLOAD_URL_SECONDS,
    }  # fmt: skip
    return signing.dumps(payload, salt=UPLOAD_SIGNING_SALT, compress=True)


def read_upload_token(token: str) -> UploadGrant:
    """Raises ``signing.BadSignature`` for a forged token, ``SignatureExpired`` after expiry."""
    data = signing.loads(token, salt=UPLOAD_SIGNING_SALT)
    if int(data["exp"]) < time.time():
        raise SignatureExpired
    return UploadGrant(
        org_id=data["org"], project_id=data["p"], bucket_id=data["b"], key=data["k"],
        role=data["r"], end_user_id=data["u"], app_roles=tuple(data["a"]),
        upsert=bool(data["up"]), expires_at=int(data["exp"]),
    )  # fmt: skip


# --- buckets, by the project's secret key -----------------------------------------------------
# Buckets are a developer's object: client apps manage them with the secret key only (RLS:
# storage migration 0004), as in Supabase where only the service role may by default.
BUCKET_SETTINGS = ("public", "max_file_size", "allowed_content_types")


class BucketNotEmpty(Exception):
    pass


def _require_service_role(client) -> None:
    if client.role != SERVICE_ROLE:
        raise PermissionDenied("Only the project's secret key manages buckets.")


@transaction.atomic
def client_bucket_create(
    *, client, name: str, public: bool = False, max_file_size: int | None = None,
    allowed_content_types: list[str] | None = None,
) -> Bucket:  # fmt: skip
    _require_service_role(client)
    bucket = _bucket_insert(
        org_id=client.org_id, project_id=client.project_id, name=name, public=public,
        inline_delivery=False, max_file_size=max_file_size,
        allowed_content_types=allowed_content_types,
    )  # fmt: skip
    _client_audit(client, AuditAction.BUCKET_CREATE, bucket, {"name": name, "public": public})
    return bucket


@transaction.atomic
def client_bucket_update(*, client, bucket: Bucket, **changes) -> Bucket:
    """Change the settings in ``changes`` (of ``BUCKET_SETTINGS``; None: the default)."""
    _require_service_role(client)
    defaults = {
        "public": False, "max_file_size": DEFAULT_MAX_FILE_SIZE, "allowed_content_types": [],
    }  # fmt: skip
    for name, value in changes.items():
        if name not in BUCKET_SETTINGS:
            raise ValueError(f"Not a bucket setting: {name}")
        setattr(bucket, name, defaults[name] if value is None else value)
    if changes:
        bucket.save(update_fields=list(changes))
    _client_audit(client, AuditAction.BUCKET_UPDATE, bucket, {"changed": sorted(changes)})
    return bucket


@transaction.atomic
def client_bucket_empty(*, client, bucket: Bucket) -> int:
    """Delete every object of the bucket; how many."""
    _require_service_role(client)
    objects = StoredObject.objects.filter(bucket=bucket)
    blobs = set(objects.values_list("blob", flat=True))
    count, _ = objects.delete()
    _client_audit(client, AuditAction.OBJECT_DELETE, bucket, {"bucket": bucket.name,
                                                               "count": count})  # fmt: skip
    _drop_unreferenced(blobs, org_id=bucket.org_id)
    return count


@transaction.atomic
def client_bucket_delete(*, client, bucket: Bucket) -> None:
    """Delete an empty bucket (``BucketNotEmpty`` otherwise, as Supabase refuses it)."""
    _require_service_role(client)
    if StoredObject.objects.filter(bucket=bucket).exists():
        raise BucketNotEmpty
    _client_audit(client, AuditAction.BUCKET_DELETE, bucket, {"name": bucket.name})
    Bucket.objects.filter(pk=bucket.pk).delete()
