"""Reads for collections and records, plus the connection pool's numbers.

Row-level security scopes every query (org, and owner for owner-only collections); the
explicit filters help the planner and say what is meant.
"""

import json
from uuid import UUID

from django.db import connections
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL

from access.selectors import rule_kind_subquery
from cache import entities
from datastore import filters
from datastore.constants import Store
from datastore.models import Collection, Record


def collection_list(*, project, store: str | None = None) -> QuerySet[Collection]:
    queryset = Collection.objects.filter(org_id=project.org_id, project=project)
    if store:
        queryset = queryset.filter(store=store)
    return queryset.order_by("name")


def collection_get(
    *, org_id, project_id, name: str, store: str | None = Store.RECORDS
) -> Collection | None:
    """A project's collection by name, with its project (every data request asks: from this
    process's copy when the epoch allows, else one query). ``store=None``: either store,
    records first. Run in a context of ``org_id``, which is all its visibility depends on."""

    def load():
        queryset = Collection.objects.select_related("project").filter(
            org_id=org_id, project_id=project_id, name=name
        )
        if store:
            queryset = queryset.filter(store=store)
        found = queryset.order_by("-store").first()  # "records" sorts after "documents"
        return entities.snapshot(found, related=("project",)) if found is not None else None

    key = ("collection", str(org_id), str(project_id), name, store)
    return entities.restore(entities.cached(key, load, keep=_found))


def collection_for_client(*, client, name: str, store: str = Store.RECORDS) -> Collection | None:
    """A collection of the client's project by name, annotated with the kind of the caller's
    select rule (``select_kind``: None when there is none): from this process's copy when the
    epoch allows, else one query. Row-level security shows a client context its own
    project's collections and rules only, whoever the end user is."""

    def load():
        found = (
            Collection.objects.filter(project_id=client.project_id, name=name, store=store)
            .annotate(select_kind=rule_kind_subquery(operation="select", client_role=client.role))
            .first()
        )
        return entities.snapshot(found, extra=("select_kind",)) if found is not None else None

    key = ("client_collection", str(client.project_id), name, store, client.role)
    return entities.restore(entities.cached(key, load, keep=_found))


def _found(snap) -> bool:
    return snap is not None  # a name nobody has is not worth a copy (anyone can invent one)


def collection_by_id(
    *, org_id, collection_id: UUID, store: str = Store.RECORDS
) -> Collection | None:
    """A collection of the org by id, whatever its project (realtime subscriptions)."""
    return Collection.objects.filter(org_id=org_id, pk=collection_id, store=store).first()


def record_queryset(*, collection: Collection, client=None) -> QuerySet[Record]:
    """The collection's records. For a client app whose select rule is ``owner`` the policy
    implies ``end_user_id = caller``: saying so lets the (collection, end_user) index serve."""
    queryset = Record.objects.filter(org_id=collection.org_id, collection=collection)
    if client is not None and getattr(collection, "select_kind", None) == "owner":
        queryset = queryset.filter(end_user_id=client.end_user_id)
    return queryset


def record_get(*, collection: Collection, record_id: UUID, client=None) -> Record | None:
    return record_queryset(collection=collection, client=client).filter(pk=record_id).first()


def record_filter(
    *, collection: Collection, query: filters.ListQuery, client=None
) -> QuerySet[Record]:
    queryset = record_queryset(collection=collection, client=client)
    for condition in query.conditions:
        queryset = queryset.filter(condition.expression())
    return queryset


def record_list(
    *, collection: Collection, query: filters.ListQuery, client=None
) -> tuple[list[Record], str | None, int | None]:
    """One page of records, the cursor of the next page (or None) and the total if asked."""
    queryset = record_filter(collection=collection, query=query, client=client)
    count = queryset.count() if query.count else None
    order = query.order
    if query.cursor is not None:
        queryset = queryset.filter(filters.keyset(order, query.cursor))
    expr, params = order.expression()
    key = RawSQL(expr, params, output_field=TextField())  # noqa: S611 (fixed template)
    if order.descending:
        queryset = queryset.order_by(key.desc(nulls_first=True), "-id")
    else:
        queryset = queryset.order_by(key.asc(nulls_last=True), "id")
    page = list(queryset[: query.limit + 1])
    next_cursor = None
    if len(page) > query.limit:
        page = page[: query.limit]
        last = page[-1]
        if order.column:
            next_cursor = filters.encode_cursor(
                order, getattr(last, order.column).isoformat(), last.pk
            )
        else:
            present, value = filters.value_at(last.data, order.path)
            next_cursor = filters.encode_cursor(order, value, last.pk, present=present)
    return page, next_cursor, count


def record_matching(
    *, collection: Collection, where: filters.Expression | None = None, client=None
) -> QuerySet[Record]:
    """The collection's records that satisfy ``where`` (any combination of conditions)."""
    queryset = record_queryset(collection=collection, client=client)
    if where is not None:
        queryset = queryset.filter(where.expression())
    return queryset


def record_rows(
    *,
    collection: Collection,
    where: filters.Expression | None,
    order: tuple[filters.OrderKey, ...],
    offset: int,
    limit: int,
    client=None,
) -> list[Record]:
    """One window of matching records in one statement, by several keys (each with its own
    nulls placement), ties broken by id so that consecutive windows neither skip nor repeat."""
    queryset = record_matching(collection=collection, where=where, client=client)
    keys = []
    for key in order:
        expr, params = key.expression()
        raw = RawSQL(expr, params, output_field=TextField())  # noqa: S611 (fixed template)
        nulls_first = key.descending if key.nulls_first is None else key.nulls_first
        nulls = {"nulls_first": True} if nulls_first else {"nulls_last": True}
        keys.append(raw.desc(**nulls) if key.descending else raw.asc(**nulls))
    return list(queryset.order_by(*keys, "id")[offset : offset + limit])


def record_count(
    *, collection: Collection, where: filters.Expression | None, planned: bool = False, client=None
) -> int:
    """How many records match: COUNT(*) under the caller's policies, or the planner's
    estimate of it (``planned``: EXPLAIN, which reads no row)."""
    queryset = record_matching(collection=collection, where=where, client=client)
    if not planned:
        return queryset.count()
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def pool_stats(alias: str = "default") -> dict:
    """psycopg_pool's counters for ``alias``: size, available, waiting, errors and the rest.

    Empty when the alias has no pool (pooling off, or the pool not opened yet).
    """
    pool = getattr(connections[alias], "pool", None)
    if pool is None:
        return {}
    stats = pool.get_stats()
    return {
        "size": stats.get("pool_size", 0),
        "available": stats.get("pool_available", 0),
        "waiting": stats.get("requests_waiting", 0),
        "errors": stats.get("connections_errors", 0) + stats.get("requests_errors", 0),
        "min": stats.get("pool_min", 0),
        "max": stats.get("pool_max", 0),
        "requests": stats.get("requests_num", 0),
        "timeouts": stats.get("requests_errors", 0),
    }
