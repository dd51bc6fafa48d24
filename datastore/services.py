"""Writes for collections and records.

Each service takes the acting membership, checks the role, validates, writes in one
transaction and, for records, announces the change after commit through
``datastore.signals.record_changed``. Row-level security is the guard underneath: a record
can only be written into the org (and, in an owner-only collection, for the user) in context.
"""

import hashlib
import re
from typing import Any
from uuid import UUID

import structlog
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from psycopg import sql

from authn.audit import audit_org_write
from authn.constants import AuditAction
from datastore import documents, filters, selectors
from datastore.constants import MAX_BULK, MAX_INDEXES, NAME_PATTERN, Access, Store
from datastore.exceptions import RuleRefused, VersionMismatch
from datastore.merge_patch import merge_patch
from datastore.models import Collection, Record
from datastore.signals import record_changed, records_created
from platform_site import parsers
from platform_site.errors import unique_violation_is_invalid
from tenants import constants
from tenants.permissions import require_org_perm

logger = structlog.get_logger(__name__)

_NAME_RE = re.compile(NAME_PATTERN + r"\Z")


# --- collections ------------------------------------------------------------------------------
def _clean_collection(
    *, name: str, store: str, json_schema: Any, indexes: Any, access: str
) -> list[str]:
    errors: dict[str, str] = {}
    if not isinstance(name, str) or not _NAME_RE.match(name):
        errors["name"] = "Letters, digits and underscores, starting with a letter (max 63)."
    if store not in Store.values:
        errors["store"] = f"One of {', '.join(Store.values)}."
    if access not in Access.values:
        errors["access"] = f"One of {', '.join(Access.values)}."
    if json_schema is not None:
        if not isinstance(json_schema, dict):
            errors["json_schema"] = "A JSON Schema object, or null."
        else:
            try:
                Draft202012Validator.check_schema(json_schema)
            except SchemaError as exc:
                errors["json_schema"] = f"Not a valid JSON Schema: {exc.message}"[:300]
    cleaned: list[str] = []
    if not isinstance(indexes, list) or len(indexes) > MAX_INDEXES:
        errors["indexes"] = f"A list of at most {MAX_INDEXES} field paths."
    else:
        try:
            cleaned = sorted({".".join(filters.parse_path(path)) for path in indexes})
        except filters.FilterError as exc:
            errors["indexes"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def collection_create(
    *,
    membership,
    project,
    name: str,
    store: str = Store.RECORDS,
    json_schema: dict | None = None,
    indexes: list[str] | None = None,
    access: str = Access.ORG,
) -> Collection:
    require_org_perm(membership, constants.MANAGE_SCHEMA)
    cleaned = _clean_collection(
        name=name, store=store, json_schema=json_schema, indexes=indexes or [], access=access
    )
    taken = "A collection with this name already exists."
    with unique_violation_is_invalid("name", taken):  # the unique index decides, races included
        collection = Collection.objects.create(
            org_id=project.org_id,
            project=project,
            name=name,
            store=store,
            json_schema=json_schema,
            indexes=cleaned,
            access=access,
        )
    _sync_indexes_on_commit(collection)
    audit_org_write(
        membership=membership,
        action=AuditAction.COLLECTION_CREATE,
        target=collection,
        metadata={"name": name, "store": str(store)},
    )
    logger.info("collection_created", collection=str(collection.id), store=str(store))
    return collection


@transaction.atomic
def collection_update(*, membership, collection: Collection, **fields) -> Collection:
    require_org_perm(membership, constants.MANAGE_SCHEMA)
    allowed = {"json_schema", "indexes", "access"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: "This field cannot be changed." for f in sorted(unknown)})
    merged = {
        "json_schema": collection.json_schema,
        "indexes": collection.indexes,
        "access": collection.access,
        **fields,
    }
    cleaned = _clean_collection(name=collection.name, store=collection.store, **merged)
    access_changed = merged["access"] != collection.access
    if access_changed:
        # Changing it rewrites every row, and RLS lets only owners and admins write (or even
        # see) the rows of other members under "owner" access.
        require_org_perm(membership, constants.CHANGE_ACCESS_RULES)
    collection.json_schema = merged["json_schema"]
    collection.indexes = cleaned
    collection.access = merged["access"]
    collection.save()
    if access_changed and collection.store == Store.RECORDS:
        # The trigger copies the rule from the collection onto each row it touches.
        Record.objects.filter(collection=collection).update(
            owner_only=collection.access == Access.OWNER
        )
    _sync_indexes_on_commit(collection)
    audit_org_write(
        membership=membership,
        action=AuditAction.COLLECTION_UPDATE,
        target=collection,
        metadata={"fields": sorted(fields)},
    )
    return collection


@transaction.atomic
def collection_delete(*, membership, collection: Collection) -> None:
    require_org_perm(membership, constants.MANAGE_SCHEMA)
    collection_id = collection.id
    audit_org_write(
        membership=membership,
        action=AuditAction.COLLECTION_DELETE,
        target=collection,
        metadata={"name": collection.name, "store": collection.store},
    )
    collection.delete()
    if collection.store == Store.RECORDS:
        transaction.on_commit(lambda: _sync_record_indexes(collection_id, []))
    else:
        transaction.on_commit(lambda: documents.drop_collection(collection_id))


def _sync_indexes_on_commit(collection: Collection) -> None:
    if collection.store == Store.RECORDS:
        collection_id, paths = collection.id, list(collection.indexes)
        transaction.on_commit(lambda: _sync_record_indexes(collection_id, paths))
    else:
        collection_id, paths = collection.id, list(collection.indexes)
        transaction.on_commit(lambda: documents.sync_declared_indexes(collection_id, paths))


def _index_name(collection_id: UUID, path: str) -> str:
    return f"rec_{collection_id.hex[:24]}_{hashlib.sha256(path.encode()).hexdigest()[:8]}"


def _sync_record_indexes(collection_id: UUID, paths: list[str]) -> None:
    """Partial expression indexes, one per declared path, built by the owner role.

    The app role owns no table and cannot create indexes; this runs after commit, outside the
    request's transaction.
    """
    wanted = {_index_name(collection_id, p): p for p in paths}
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'datastore_record' "
            "AND indexname LIKE %s",
            [f"rec_{collection_id.hex[:24]}_%"],
        )
        existing = {row[0] for row in cursor.fetchall()}
        for name in existing - set(wanted):
            cursor.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
        for name, path in wanted.items():
            if name in existing:
                continue
            statement = sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON datastore_record ((data #> {})) "
                "WHERE collection_id = {}"
            ).format(
                sql.Identifier(name),
                sql.Literal("{" + ",".join(path.split(".")) + "}"),
                sql.Literal(str(collection_id)),
            )
            cursor.execute(statement)


# --- records ----------------------------------------------------------------------------------
def _validate_data(collection: Collection, data: Any, *, prefix: str = "") -> None:
    if not isinstance(data, dict):
        raise ValidationError({prefix or "data": "A record is a JSON object."})
    try:
        parsers.check_json_value(data)  # before anything below recurses into it
    except parsers.UnsafeValue as exc:
        raise ValidationError({prefix or "data": str(exc)}) from None
    try:
        filters.dumps(data)
    except ValueError:
        raise ValidationError({prefix or "data": "Numbers must be finite."}) from None
    if collection.json_schema:
        validator = Draft202012Validator(collection.json_schema)
        messages = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"[:300]
            for e in validator.iter_errors(data)
        ][:10]
        if messages:
            raise ValidationError({prefix or "data": messages})


def _announce(record: Record, op: str, data: dict) -> None:
    payload = {
        "org_id": record.org_id,
        "project_id": record.project_id,
        "collection_id": record.collection_id,
        "record_id": record.pk,
        "owner_id": record.owner_id,
        "end_user_id": record.end_user_id,
        "owner_only": record.owner_only,
        "op": op,
        "data": data,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        # The write's correlation id, taken now: after commit the request may be over.
        "request_id": structlog.contextvars.get_contextvars().get("request_id") or "",
    }
    transaction.on_commit(lambda: record_changed.send(sender=Record, **payload))


def _announce_created(
    collection: Collection, owner_id: int | None, records: list[Record], end_user_id=None
) -> None:
    """``_announce`` for a bulk create: one ``records_created`` for all its records."""
    payload = {
        "org_id": collection.org_id,
        "project_id": collection.project_id,
        "collection_id": collection.pk,
        "owner_id": owner_id,
        "end_user_id": end_user_id,
        "owner_only": collection.access == Access.OWNER,
        "records": [(record.pk, record.data) for record in records],
        "request_id": structlog.contextvars.get_contextvars().get("request_id") or "",
    }
    transaction.on_commit(lambda: records_created.send(sender=Record, **payload))


def _writable(membership, client, collection: Collection) -> None:
    """A developer needs WRITE_DATA; a client app of the collection's project is judged by
    the access rules, which the row-level security policies apply to the write itself."""
    if (membership is None) == (client is None):
        raise TypeError("A record write acts for a membership or for a client app, not both.")
    if membership is not None:
        require_org_perm(membership, constants.WRITE_DATA)
    elif str(client.project_id) != str(collection.project_id):
        raise Record.DoesNotExist  # the views never get here: the lookup is per project
    if collection.store != Store.RECORDS:
        raise ValidationError({"collection": "This collection stores documents."})


def _end_user_of(client) -> UUID | None:
    """What the guard trigger stores as a client insert's end_user_id (for the event)."""
    return client.end_user_id if client is not None and client.role == "authenticated" else None


@transaction.atomic
def record_create(*, membership=None, client=None, collection: Collection, data: dict) -> Record:
    """A developer's record (``membership``) or a client app's (``client``: the trigger
    sets its end user, the insert policy decides whether the rules allow it)."""
    _writable(membership, client, collection)
    _validate_data(collection, data)
    record = Record.objects.create(
        org_id=collection.org_id,
        project_id=collection.project_id,
        collection=collection,
        owner_id=membership.user_id if membership is not None else None,
        end_user_id=_end_user_of(client),
        owner_only=collection.access == Access.OWNER,  # what the trigger stores, for the event
        data=data,
    )
    _announce(record, "create", data)
    return record


@transaction.atomic
def record_bulk_create(
    *,
    membership=None,
    client=None,
    collection: Collection,
    items: list,
    ids: list[UUID | None] | None = None,
) -> list[Record]:
    """Several records in one INSERT, for a developer or a client app (as ``record_create``).
    ``ids``: the records' ids where the caller chose them (a taken id is a unique violation,
    whoever's row holds it)."""
    _writable(membership, client, collection)
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BULK:
        raise ValidationError({"items": f"A list of 1 to {MAX_BULK} records."})
    if ids is not None and len(ids) != len(items):
        raise TypeError("ids and items differ in length.")
    for index, data in enumerate(items):
        _validate_data(collection, data, prefix=f"items[{index}]")
    owner_id = membership.user_id if membership is not None else None
    end_user_id = _end_user_of(client)
    records = Record.objects.bulk_create(
        [
            Record(
                org_id=collection.org_id,
                project_id=collection.project_id,
                collection=collection,
                owner_id=owner_id,
                end_user_id=end_user_id,
                owner_only=collection.access == Access.OWNER,
                data=data,
                **({"id": ids[index]} if ids is not None and ids[index] is not None else {}),
            )
            for index, data in enumerate(items)
        ]
    )
    _announce_created(collection, owner_id, records, end_user_id)
    return records


def _refused_or_missing(collection: Collection, record_id: UUID) -> Exception:
    """A client write found no row it may change: 403 if the caller can see it, else 404."""
    visible = Record.objects.filter(collection=collection, pk=record_id).exists()
    return RuleRefused() if visible else Record.DoesNotExist()


def _locked(
    collection: Collection, record_id: UUID, expected_version: int | None, client=None
) -> Record:
    # FOR UPDATE rows are those the UPDATE policy's USING clause passes too.
    record = (
        Record.objects.select_for_update()
        .filter(org_id=collection.org_id, collection=collection, pk=record_id)
        .first()
    )
    if record is None:
        if client is not None:
            raise _refused_or_missing(collection, record_id)
        raise Record.DoesNotExist
    if expected_version is not None and record.version != expected_version:
        raise VersionMismatch(record.version)
    return record


@transaction.atomic
def record_update(
    *,
    membership=None,
    client=None,
    collection: Collection,
    record_id: UUID,
    data: dict,
    merge: bool,
    expected_version: int | None = None,
) -> Record:
    """Replace the record's data, or merge-patch it (``merge=True``).

    Only ``data`` changes: org, project, collection and owner are not the client's to set
    (and a trigger refuses any UPDATE that would move them).
    """
    _writable(membership, client, collection)
    if not isinstance(data, dict):
        raise ValidationError({"data": "A JSON object."})
    record = _locked(collection, record_id, expected_version, client)
    new_data = merge_patch(record.data, data) if merge else data
    _validate_data(collection, new_data)
    record.data = new_data
    record.version += 1
    record.save(update_fields=["data", "version", "updated_at"])
    _announce(record, "update", new_data)
    return record


@transaction.atomic
def record_delete(
    *,
    membership=None,
    client=None,
    collection: Collection,
    record_id: UUID,
    expected_version: int | None = None,
) -> None:
    _writable(membership, client, collection)
    if client is None:
        record = _locked(collection, record_id, expected_version)
        _announce(record, "delete", record.data)
        record.delete()
        return
    # A client's delete is judged by the DELETE policy alone (a lock would need UPDATE too).
    record = Record.objects.filter(collection=collection, pk=record_id).first()
    if record is None:
        raise Record.DoesNotExist
    if expected_version is not None and record.version != expected_version:
        raise VersionMismatch(record.version)
    deleted, _ = Record.objects.filter(pk=record.pk, version=record.version).delete()
    if deleted == 0:
        raise RuleRefused()
    _announce(record, "delete", record.data)


# --- writes by filter (PostgREST's PATCH, DELETE and upsert: compat.rest) ---------------------
def _set_fields(collection: Collection, record: Record, fields: dict, now) -> None:
    """Set the top-level ``fields`` of a record's data (a null stores null, unlike a merge
    patch), validated as a whole."""
    record.data = {**record.data, **fields}
    _validate_data(collection, record.data)
    record.version += 1
    record.updated_at = now


@transaction.atomic
def record_update_matching(
    *, client, collection: Collection, where: filters.Expression, fields: dict
) -> list[Record]:
    """Set ``fields`` on every record matching ``where`` that the caller may change, in one
    UPDATE; rows the update policy does not let the caller change are left out, as the policy
    leaves them out of ``FOR UPDATE`` (its check still refuses a change it forbids: 42501)."""
    _writable(None, client, collection)
    if not isinstance(fields, dict):
        raise ValidationError({"data": "A JSON object."})
    rows = list(
        selectors.record_matching(collection=collection, where=where, client=client)
        .select_for_update()
        .order_by("id")
    )
    if not rows:
        return []
    now = timezone.now()
    for row in rows:
        _set_fields(collection, row, fields, now)
    Record.objects.filter(collection=collection, pk__in=[row.pk for row in rows]).update(
        # Top-level keys replace: the same result as _set_fields on each (locked) row.
        data=RawSQL('"datastore_record"."data" || %s::jsonb', [filters.dumps(fields)]),  # noqa: S611
        version=F("version") + 1,
        updated_at=now,
    )
    for row in rows:
        _announce(row, "update", row.data)
    return rows


@transaction.atomic
def record_delete_matching(*, client, collection: Collection, where: filters.Expression) -> list:
    """Delete every record matching ``where`` that the delete policy lets the caller delete,
    in one statement that returns them."""
    _writable(None, client, collection)
    matching = selectors.record_matching(collection=collection, where=where, client=client)
    select_sql, params = matching.values("pk").query.sql_with_params()
    table = Record._meta.db_table
    rows = list(
        Record.objects.raw(
            f"DELETE FROM {table} WHERE id IN ({select_sql}) RETURNING *",  # noqa: S611
            params,
        )
    )
    for row in rows:
        _announce(row, "delete", row.data)
    return rows


@transaction.atomic
def record_upsert(
    *, client, collection: Collection, items: list[tuple[UUID | None, dict]], merge: bool
) -> list[Record]:
    """Create each item, or, when its id is a record the caller may change, set its fields on
    it (``merge``) or leave that record alone (not returned). The ids are distinct."""
    _writable(None, client, collection)
    ids = [record_id for record_id, _ in items if record_id is not None]
    existing = {
        row.pk: row
        for row in Record.objects.select_for_update().filter(collection=collection, pk__in=ids)
    }
    now = timezone.now()
    updated, new = [], []
    for record_id, data in items:
        row = existing.get(record_id) if record_id is not None else None
        if row is None:
            new.append((record_id, data))
        elif merge:
            _set_fields(collection, row, data, now)
            updated.append(row)
    if updated:
        Record.objects.bulk_update(updated, ["data", "version", "updated_at"])
        for row in updated:
            _announce(row, "update", row.data)
    created = []
    if new:
        created = record_bulk_create(
            client=client,
            collection=collection,
            items=[data for _, data in new],
            ids=[record_id for record_id, _ in new],
        )
    return updated + created
