"""The table editor: a project's collections as grids, edited through the data services.

Records (PostgreSQL) and documents (MongoDB) are read and written exactly as the data API does
it: ``datastore.selectors`` / ``datastore.services`` for records, ``TenantDocuments`` for
documents, with the signed-in member's membership, under the RLS context the tenant middleware
set for that member (so a developer sees owner-only rows only as the API lets them). Sort,
filter and keyset paging take the API's own grammar (``datastore.filters``). Reading needs
``VIEW_DATA``; editing rows ``WRITE_DATA``; the schema, indexes and access ``MANAGE_SCHEMA``
(the services check again). A member without the write permission gets no edit controls and
a 403 for any write.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from pymongo.errors import PyMongoError

from datastore import documents, filters, selectors, services
from datastore.constants import Access, Store
from datastore.exceptions import VersionMismatch
from datastore.models import Record
from studio.projects import ProjectPage, _page, _render
from tenants.constants import MANAGE_SCHEMA, VIEW_DATA, WRITE_DATA
from tenants.replicas import lag_tolerant

PAGE = 25
MAX_COLUMNS = 12
CONFLICT = "The row changed since this page was loaded: reload it and try again."


def _url(name: str, page: ProjectPage, *args, query: str = "") -> str:
    url = reverse(f"studio:{name}", args=[page.org.slug, page.project.id, *args])
    return f"{url}?{query}" if query else url


def _collection(page: ProjectPage, name: str, store: str | None):
    found = selectors.collection_get(
        org_id=page.org.id,
        project_id=page.project.id,
        name=name,
        store=store if store in Store.values else None,
    )
    if found is None:
        raise Http404("No such collection.")
    return found


@dataclass
class Row:
    id: str
    data: dict
    version: int
    updated_at: Any


class Rows:
    """One collection's rows as the grid sees them, whatever the store."""

    def __init__(self, collection, membership):
        self.collection = collection
        self.membership = membership
        if collection.store == Store.DOCUMENTS:
            self.documents = documents.TenantDocuments(collection=collection, membership=membership)

    @property
    def is_documents(self) -> bool:
        return self.collection.store == Store.DOCUMENTS

    def page(self, params) -> dict:
        """One page: rows, the query string of the next page (or None), the total."""
        if self.is_documents:
            return self._document_page(params)
        query = filters.parse_list_query(
            {
                "filter": filter_lines(params),
                **({"order": [params["order"]]} if params.get("order") else {}),
                **({"cursor": [params["cursor"]]} if params.get("cursor") else {}),
                "limit": [str(PAGE)],
                "count": ["true"],
            }
        )
        records, next_cursor, count = selectors.record_list(collection=self.collection, query=query)
        rows = [Row(str(r.id), r.data, r.version, r.updated_at) for r in records]
        return {"rows": rows, "next": next_cursor and {"cursor": next_cursor}, "count": count}

    def _document_page(self, params) -> dict:
        text = (params.get("query") or "").strip()
        query = json.loads(text) if text else None
        sort = documents.parse_sort(params.get("order"))
        skip_text = params.get("skip", "")
        skip = int(skip_text) if skip_text.isdigit() else 0
        found = self.documents.find(query, sort=sort, limit=PAGE, skip=skip)
        rows = [Row(d["id"], d["data"], d["version"], d["updated_at"]) for d in found]
        more = len(found) == PAGE
        return {
            "rows": rows,
            "next": {"skip": str(skip + PAGE)} if more else None,
            "count": self.documents.count(query),
        }

    def get(self, row_id: str) -> Row:
        if self.is_documents:
            doc = self.documents.get(row_id)
            if doc is None:
                raise Http404("No such document.")
            return Row(doc["id"], doc["data"], doc["version"], doc["updated_at"])
        try:
            record = selectors.record_get(collection=self.collection, record_id=row_id)
        except ValidationError:  # not a UUID
            record = None
        if record is None:
            raise Http404("No such record.")
        return Row(str(record.id), record.data, record.version, record.updated_at)

    def create(self, data: dict) -> None:
        if self.is_documents:
            self.documents.insert_many([data])
        else:
            services.record_create(
                membership=self.membership, collection=self.collection, data=data
            )

    def update(self, row_id: str, data: dict, *, merge: bool, version: int | None) -> Row:
        if self.is_documents:
            doc = self.documents.write(row_id, data, merge=merge, expected_version=version)
            if doc is None:
                raise Http404("No such document.")
            return Row(doc["id"], doc["data"], doc["version"], doc["updated_at"])
        try:
            record = services.record_update(
                membership=self.membership,
                collection=self.collection,
                record_id=row_id,
                data=data,
                merge=merge,
                expected_version=version,
            )
        except Record.DoesNotExist:
            raise Http404("No such record.") from None
        return Row(str(record.id), record.data, record.version, record.updated_at)

    def delete(self, row_id: str, *, version: int | None) -> None:
        if self.is_documents:
            if not self.documents.delete(row_id, expected_version=version):
                raise Http404("No such document.")
            return
        try:
            services.record_delete(
                membership=self.membership,
                collection=self.collection,
                record_id=row_id,
                expected_version=version,
            )
        except Record.DoesNotExist:
            raise Http404("No such record.") from None


# Errors a write's input can cause, shown to the member rather than raised.
INPUT_ERRORS = (
    ValidationError,
    filters.FilterError,
    documents.DocumentQueryError,
    VersionMismatch,
    ValueError,
)


def _message(exc: Exception) -> str:
    if isinstance(exc, VersionMismatch):
        return CONFLICT
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def filter_lines(params) -> list[str]:
    """The grid's filters: one ``path:op:json`` per line of the filter box."""
    return [
        line.strip() for v in params.getlist("filter") for line in v.splitlines() if line.strip()
    ]


# --- columns and cells -----------------------------------------------------------------------
def _schema_types(collection) -> dict[str, set]:
    properties = (collection.json_schema or {}).get("properties") or {}
    types = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        types[name] = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    return types


def columns(collection, rows: list[Row]) -> list[str]:
    """The JSON Schema's required properties (in its order), its other properties, then the
    other top-level fields seen on the page. (Stored as jsonb, the properties object keeps no
    order of its own; the ``required`` array does.)"""
    properties = list(_schema_types(collection))
    required = (collection.json_schema or {}).get("required") or []
    names = [name for name in required if name in properties]
    names.extend(name for name in properties if name not in names)
    for row in rows:
        names.extend(key for key in row.data if key not in names)
    return names[:MAX_COLUMNS]


def shown(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_cell(collection, field: str, text: str):
    """What a typed cell means: the text itself for a string column, else JSON when it parses
    (a number, true, an object...), else the text. Empty text in a non-string column removes
    the field (``null`` in a merge patch)."""
    types = _schema_types(collection).get(field, set())
    if types == {"string"}:
        return text
    if text.strip() == "":
        return None
    try:
        return filters.parse_json(text)
    except filters.FilterError:
        return text


def top_level_field(name: str) -> str:
    """A column's name: one segment of the data API's path grammar (a cell is one field)."""
    if len(filters.parse_path(name)) != 1:
        raise filters.FilterError("A column is one top-level field name.")
    return name


def _version(request) -> int | None:
    text = request.POST.get("version", "")
    return int(text) if text.isdigit() else None


def _back(request, fallback: str) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return fallback


# --- pages -----------------------------------------------------------------------------------
@lag_tolerant
def index(request, org, project):
    page = _page(request, org, project, read=VIEW_DATA, write=MANAGE_SCHEMA)
    if request.method == "POST":
        try:
            created = services.collection_create(
                membership=page.membership,
                project=page.project,
                name=request.POST.get("name", "").strip(),
                store=request.POST.get("store", Store.RECORDS),
                access=request.POST.get("access", Access.ORG),
            )
        except ValidationError as exc:
            messages.error(request, _message(exc))
        else:
            messages.success(request, f"Collection {created.name} created.")
            query = "store=documents" if created.store == Store.DOCUMENTS else ""
            return HttpResponseRedirect(
                _url("project-table-collection", page, created.name, query=query), status=303
            )
    return _render(
        request,
        "studio/project/table_index.html",
        page,
        "Table editor",
        collections=selectors.collection_list(project=page.project),
        stores=Store.choices,
        accesses=Access.choices,
    )


@lag_tolerant
def grid(request, org, project, collection):
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    target = _collection(page, collection, request.GET.get("store"))
    rows = Rows(target, page.membership)
    if request.method == "POST":
        return _add_row(request, page, target, rows)
    error = None
    try:
        listing = rows.page(request.GET)
    except (filters.FilterError, documents.DocumentQueryError, ValueError) as exc:
        error, listing = str(exc), {"rows": [], "next": None, "count": 0}
    except (PyMongoError, documents.DocumentStoreUnavailable):
        error, listing = "The document store is not available.", {"rows": [], "next": None}
    names = columns(target, listing["rows"])
    params = request.GET.copy()
    params.pop("cursor", None)
    params.pop("skip", None)
    next_query = None
    if listing["next"]:
        following = params.copy()
        following.update(listing["next"])
        next_query = following.urlencode()
    order = request.GET.get("order", "")
    return _render(
        request,
        "studio/project/table.html",
        page,
        f"Table {target.name}",
        collection=target,
        is_documents=rows.is_documents,
        error=error,
        columns=[_column(name, order, params) for name in names],
        rows=[
            {"row": row, "cells": [_cell(row.data, name) for name in names]}
            for row in listing["rows"]
        ],
        count=listing.get("count"),
        next_query=next_query,
        first_query=params.urlencode(),
        paged=bool(request.GET.get("cursor") or request.GET.get("skip")),
        filter_text="\n".join(filter_lines(request.GET)),
        updated_column=None if rows.is_documents else _column("$updated_at", order, params),
        mongo_query=request.GET.get("query", ""),
        order=order,
        store_query="store=documents" if rows.is_documents else "",
    )


def _column(name: str, order: str, params) -> dict:
    sort = params.copy()
    sort["order"] = f"-{name}" if order == name else name
    arrow = " ▲" if order == name else " ▼" if order == f"-{name}" else ""
    return {"name": name, "sort_query": sort.urlencode(), "arrow": arrow}


def _cell(data: dict, name: str) -> dict:
    present = name in data
    return {"field": name, "present": present, "text": shown(data[name]) if present else ""}


def _add_row(request, page, target, rows: Rows):
    back = _url("project-table-collection", page, target.name)
    typed = [(key[4:], text) for key, text in request.POST.items() if key.startswith("col:")]
    typed.append((request.POST.get("new-field", "").strip(), request.POST.get("new-value", "")))
    data = {}
    try:
        for field, text in typed:
            if field and text.strip() != "":
                data[top_level_field(field)] = parse_cell(target, field, text)
        rows.create(data)
    except INPUT_ERRORS as exc:
        messages.error(request, f"Row not added: {_message(exc)}")
    else:
        messages.success(request, "Row added.")
    return HttpResponseRedirect(_back(request, back), status=303)


@require_POST
def cell(request, org, project, collection, row):
    """One cell's new value (the grid's inline edit, by fetch): a merge patch of one field."""
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    target = _collection(page, collection, request.GET.get("store"))
    field = request.POST.get("field", "")
    try:
        top_level_field(field)
        value = parse_cell(target, field, request.POST.get("value", ""))
        updated = Rows(target, page.membership).update(
            row, {field: value}, merge=True, version=_version(request)
        )
    except INPUT_ERRORS as exc:
        status = 409 if isinstance(exc, VersionMismatch) else 400
        return JsonResponse({"error": _message(exc)}, status=status)
    present = field in updated.data
    return JsonResponse(
        {
            "text": shown(updated.data[field]) if present else "",
            "present": present,
            "version": updated.version,
        }
    )


@lag_tolerant
def record(request, org, project, collection, row):
    """A whole row as JSON: read, and (with WRITE_DATA) replaced from the JSON editor."""
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    target = _collection(page, collection, request.GET.get("store"))
    rows = Rows(target, page.membership)
    found = rows.get(row)
    text = json.dumps(found.data, indent=2, ensure_ascii=False, sort_keys=True)
    error = None
    if request.method == "POST":
        text = request.POST.get("data", "")
        try:
            data = filters.parse_json(text)
            rows.update(row, data, merge=False, version=_version(request))
        except INPUT_ERRORS as exc:
            error = _message(exc)
        else:
            messages.success(request, "Row saved.")
            return HttpResponseRedirect(request.get_full_path(), status=303)
    return _render(
        request,
        "studio/project/table_record.html",
        page,
        f"Row {found.id}",
        status=400 if error else 200,
        collection=target,
        row=found,
        json_text=text,
        error=error,
        store_query="store=documents" if rows.is_documents else "",
    )


@require_POST
def delete(request, org, project, collection, row):
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    target = _collection(page, collection, request.GET.get("store"))
    query = "store=documents" if target.store == Store.DOCUMENTS else ""
    back = _url("project-table-collection", page, target.name, query=query)
    try:
        Rows(target, page.membership).delete(row, version=_version(request))
    except INPUT_ERRORS as exc:
        messages.error(request, f"Row not deleted: {_message(exc)}")
    else:
        messages.success(request, "Row deleted.")
    return HttpResponseRedirect(_back(request, back), status=303)


def schema(request, org, project, collection):
    """The collection's JSON Schema, indexed paths and access rule for members."""
    page = _page(request, org, project, read=VIEW_DATA, write=MANAGE_SCHEMA)
    target = _collection(page, collection, request.GET.get("store"))
    schema_text = json.dumps(target.json_schema, indent=2) if target.json_schema else ""
    indexes_text = "\n".join(target.indexes)
    error = None
    if request.method == "POST":
        schema_text = request.POST.get("json_schema", "")
        indexes_text = request.POST.get("indexes", "")
        try:
            json_schema = filters.parse_json(schema_text) if schema_text.strip() else None
            services.collection_update(
                membership=page.membership,
                collection=target,
                json_schema=json_schema,
                indexes=[line.strip() for line in indexes_text.splitlines() if line.strip()],
                access=request.POST.get("access", target.access),
            )
        except (ValidationError, filters.FilterError, PermissionDenied) as exc:
            error = _message(exc)
        else:
            messages.success(request, "Schema saved.")
            return HttpResponseRedirect(request.get_full_path(), status=303)
    return _render(
        request,
        "studio/project/table_schema.html",
        page,
        f"Schema of {target.name}",
        status=400 if error else 200,
        collection=target,
        schema_text=schema_text,
        indexes_text=indexes_text,
        accesses=Access.choices,
        error=error,
        store_query="store=documents" if target.store == Store.DOCUMENTS else "",
    )
