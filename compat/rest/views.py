"""PostgREST's wire protocol over the project's record collections: ``/rest/v1/<collection>``
as ``@supabase/supabase-js`` calls it (``.from(name).select() / insert() / upsert() /
update() / delete()``).

The client identity middleware has identified the caller and the tenant middleware has set
its context, so every statement below runs as the app role under the client policies: the
access rules decide what a caller reads and writes, never a filter added here. The query
grammar is ``compat.rest.grammar``; reads are ``datastore.selectors``, writes the
``datastore.services`` of the data API (JSON Schema validation, after-commit signals,
realtime, webhooks).

These routes speak a foreign wire protocol (PostgREST's), documented in
``docs/rest-compat.md``; they are left out of the platform's OpenAPI schema.
"""

from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.negotiation import DefaultContentNegotiation

from compat.rest import grammar
from compat.rest.errors import postgrest_exception_handler
from compat.rest.grammar import GrammarError, Schema
from datastore import selectors, services
from datastore.constants import MAX_BULK
from endusers.api.base import ClientView
from tenants.replicas import lag_tolerant

EXCLUDED = extend_schema(exclude=True)
OBJECT = "application/vnd.pgrst.object+json"
JSON_TYPES = ("*/*", "application/*", "application/json", "application/vnd.pgrst.array+json")
SINGLE_MESSAGE = "Cannot coerce the result to a single JSON object"


class AnyRenderer(DefaultContentNegotiation):
    """PostgREST's media types are checked by the view; errors always render as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PostgrestView(ClientView):
    content_negotiation_class = AnyRenderer

    def get_exception_handler(self):
        return postgrest_exception_handler


def _json(body, status: int = 200, headers: dict | None = None) -> HttpResponse:
    content = b"" if body is None else grammar.dumps(body).encode()
    response = HttpResponse(content, status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# --- rows as the client sees them ---------------------------------------------------------------
def _columns(record) -> dict:
    return {
        "id": str(record.pk),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "user_id": str(record.end_user_id) if record.end_user_id else None,
    }


def _text(value):
    """``->>``: a string as it is, anything else as its JSON text, null as null."""
    if value is None or isinstance(value, str):
        return value
    return grammar.dumps(value)


def _value(record, columns: dict, target: grammar.Field):
    if target.column is not None:
        return columns[target.name]
    node = record.data
    for part in target.path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return _text(node) if target.as_text else node


def render(record, select: tuple[grammar.SelectItem, ...], schema: Schema) -> dict:
    columns = _columns(record)
    row: dict = {}
    for item in select:
        if item.target is None:
            row.update(columns)
            row.update({name: None for name in schema.properties})
            row.update({k: v for k, v in record.data.items() if k not in grammar.COLUMNS})
        else:
            row[item.key] = _value(record, columns, item.target)
    return row


# --- what a write may say ------------------------------------------------------------------------
def _row_fields(item, *, client, table: str, columns, allow_id: bool) -> tuple[UUID | None, dict]:
    """A body row as (the id it names, the data fields it sets)."""
    if not isinstance(item, dict):
        raise GrammarError(
            "Empty or invalid json", code="PGRST102", details="Each row is a JSON object."
        )
    fields = {k: v for k, v in item.items() if columns is None or k in columns}
    record_id = None
    if "id" in fields:
        raw = fields.pop("id")
        if not allow_id:
            raise GrammarError(
                'column "id" can only be updated to DEFAULT', code="428C9", hint="ids never change."
            )
        try:
            record_id = UUID(str(raw))
        except ValueError:
            raise grammar.invalid_input("uuid", str(raw)) from None
    for name in grammar.READ_ONLY:
        if name in fields:
            raise GrammarError(
                f'cannot insert a non-DEFAULT value into column "{name}"',
                code="428C9",
                details=f'Column "{name}" is set by the server.',
            )
    if "user_id" in fields:
        owner = fields.pop("user_id")
        own = str(client.end_user_id) if client.end_user_id else None
        if owner is not None and str(owner) != own:
            raise GrammarError(
                f'new row violates row-level security policy for table "{table}"',
                code="42501",
                status=401 if client.role == "anon" else 403,
                hint="user_id is the signed-in end user who writes the row.",
            )
    return record_id, fields


# --- the table -----------------------------------------------------------------------------------
@lag_tolerant
@extend_schema_view(get=EXCLUDED, head=EXCLUDED, post=EXCLUDED, patch=EXCLUDED, delete=EXCLUDED)
class TableView(PostgrestView):
    """``/rest/v1/<collection>``: GET/HEAD read, POST inserts or upserts, PATCH and DELETE
    change the rows the filters select."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        profile = request.headers.get("Accept-Profile") or request.headers.get("Content-Profile")
        if profile not in (None, "public"):
            raise GrammarError(
                "The schema must be one of the following: public",
                code="PGRST106",
                status=406,
                details=f"{profile[:60]!r} was asked for.",
            )
        accept = request.headers.get("Accept", "")
        self.single = self._wants_object(accept)
        self.strip_nulls = "nulls=stripped" in accept.replace(" ", "")
        self.prefer = grammar.parse_prefer(request.headers.get("Prefer"))

    @staticmethod
    def _wants_object(accept: str) -> bool:
        types = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
        if not types:
            return False
        if OBJECT in types:
            return True
        if not any(kind in JSON_TYPES for kind in types):
            raise GrammarError(
                f"None of these media types are available: {accept[:100]}",
                code="PGRST107",
                status=406,
            )
        return False

    def _target(self):
        table = self.kwargs["table"]
        collection = selectors.collection_for_client(client=self.client, name=table)
        if collection is None:
            raise GrammarError(
                f"Could not find the table 'public.{table}' in the schema cache",
                code="PGRST205",
                status=404,
            )
        return collection, Schema(collection.json_schema, table)

    def _query(self, schema: Schema) -> grammar.Query:
        return grammar.parse_query(
            self.request.query_params, schema, range_header=self.request.headers.get("Range")
        )

    # --- reads
    def get(self, request, table):
        return self._read(head=False)

    def head(self, request, table):
        return self._read(head=True)

    def _read(self, *, head: bool) -> HttpResponse:
        collection, schema = self._target()
        query = self._query(schema)
        limit = grammar.MAX_ROWS if query.limit is None else min(query.limit, grammar.MAX_ROWS)
        rows = []
        if limit > 0:
            rows = selectors.record_rows(
                collection=collection,
                where=query.where,
                order=query.order,
                offset=query.offset,
                limit=limit,
                client=self.client,
            )
        total = self._total(collection, query, rows, limit)
        if total is not None and query.offset > total:
            raise GrammarError(
                "Requested range not satisfiable",
                code="PGRST103",
                status=416,
                details=f"An offset of {query.offset} was requested, but there are only "
                f"{total} rows.",
            )
        status = 206 if total is not None and len(rows) < total else 200
        headers = {"Content-Range": self._range(query.offset, len(rows), total)}
        body = self._body([render(r, query.select, schema) for r in rows])
        if head:
            return _json(None, status=status, headers=headers)
        return _json(body, status=status, headers=headers)

    def _total(self, collection, query, rows, limit) -> int | None:
        """The count ``Prefer: count=`` asks for: exact (COUNT under the policies), planned
        (the planner's estimate) or estimated (exact up to MAX_ROWS, planned beyond)."""
        method = self.prefer.count
        if method is None:
            return None
        if len(rows) < limit and (rows or query.offset == 0):
            return query.offset + len(rows)  # the window ends before the rows do: exact
        count = selectors.record_count
        kwargs = {"collection": collection, "where": query.where, "client": self.client}
        if method == "exact":
            return count(**kwargs)
        planned = count(**kwargs, planned=True)
        if method == "estimated" and planned <= grammar.MAX_ROWS:
            return count(**kwargs)
        return max(planned, query.offset + len(rows))  # an estimate, never below what was read

    @staticmethod
    def _range(offset: int, n: int, total: int | None) -> str:
        of = "*" if total is None else str(total)
        if n == 0:
            return f"*/{of}"
        return f"{offset}-{offset + n - 1}/{of}"

    def _body(self, rows: list[dict]):
        """The rows, or the one row ``.single()`` asked for (406 PGRST116 otherwise); without
        their null fields when the client asks (``nulls=stripped``)."""
        if self.strip_nulls:
            rows = [{k: v for k, v in row.items() if v is not None} for row in rows]
        if not self.single:
            return rows
        if len(rows) != 1:
            raise GrammarError(
                SINGLE_MESSAGE,
                code="PGRST116",
                status=406,
                details=f"The result contains {len(rows)} rows",
            )
        return rows[0]

    # --- writes
    def _written(self, records, query, schema, *, status: int) -> HttpResponse:
        """The answer to a write: ``return=representation`` shows the rows (``select``)."""
        count = len(records)
        headers = {"Content-Range": f"*/{count}" if self.prefer.count else "*/*"}
        if self.prefer.returning != "representation":
            return _json(None, status=204 if status == 200 else status, headers=headers)
        body = self._body([render(r, query.select, schema) for r in records])
        return _json(body, status=status, headers=headers)

    def post(self, request, table):
        collection, schema = self._target()
        query = self._query(schema)
        body = request.data
        rows = body if isinstance(body, list) else [body]
        if len(rows) > MAX_BULK:
            raise GrammarError(
                "Empty or invalid json",
                code="PGRST102",
                details=f"At most {MAX_BULK} rows per request ({len(rows)} sent).",
            )
        items = [
            _row_fields(row, client=self.client, table=table, columns=query.columns, allow_id=True)
            for row in rows
        ]
        resolution = self.prefer.resolution
        if query.on_conflict not in (None, "id"):
            raise GrammarError(
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                code="42P10",
                hint="Records are unique by id only: on_conflict=id.",
            )
        if not items:
            records = []
        elif resolution is not None:
            ids = [record_id for record_id, _ in items if record_id is not None]
            if len(set(ids)) != len(ids):
                raise GrammarError(
                    "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    code="21000",
                    hint="Each id appears once in an upsert.",
                )
            records = services.record_upsert(
                client=self.client,
                collection=collection,
                items=items,
                merge=resolution == "merge-duplicates",
            )
        else:
            records = services.record_bulk_create(
                client=self.client,
                collection=collection,
                items=[data for _, data in items],
                ids=[record_id for record_id, _ in items],
            )
        return self._written(records, query, schema, status=201)

    def _filtered(self, schema: Schema, verb: str) -> grammar.Query:
        query = self._query(schema)
        if query.where is None:
            raise GrammarError(
                f"{verb} requires a WHERE clause",
                code="21000",
                hint="Add a filter (e.g. id=eq.<id>); changing every row at once is refused.",
            )
        if "limit" in self.request.query_params or "offset" in self.request.query_params:
            raise GrammarError(
                f"limit and offset are not supported on an {verb}",
                code="PGRST100",
                hint="Select the rows' ids first, then filter by id=in.(...).",
            )
        return query

    def patch(self, request, table):
        collection, schema = self._target()
        query = self._filtered(schema, "UPDATE")
        if isinstance(request.data, list):
            raise GrammarError(
                "Empty or invalid json", code="PGRST102", details="An update is one JSON object."
            )
        _, fields = _row_fields(
            request.data, client=self.client, table=table, columns=query.columns, allow_id=False
        )
        records = []
        if fields:
            records = services.record_update_matching(
                client=self.client, collection=collection, where=query.where, fields=fields
            )
        return self._written(records, query, schema, status=200)

    def delete(self, request, table):
        collection, schema = self._target()
        query = self._filtered(schema, "DELETE")
        records = services.record_delete_matching(
            client=self.client, collection=collection, where=query.where
        )
        return self._written(records, query, schema, status=200)


@extend_schema_view(get=EXCLUDED, post=EXCLUDED)
class FunctionView(PostgrestView):
    """``/rest/v1/rpc/<function>``: there are no database functions to call."""

    def get(self, request, function):
        raise GrammarError(
            f"Could not find the function public.{function[:60]} without parameters in the "
            "schema cache",
            code="PGRST202",
            status=404,
            hint="Database functions are not offered; call a function at /functions/v1/<name>.",
        )

    post = get
