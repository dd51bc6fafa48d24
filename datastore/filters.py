"""The record filter grammar, compiled to parameterised SQL over the ``data`` JSONB column.

Grammar (query string of ``GET .../records/``; also the Studio's filter box)::

    filter=<path>:<op>:<value>        repeatable; all filters must hold (AND)
    order=<key> | order=-<key>        one key; ties are broken by id
    fields=<path>,<path>...           return only these paths of ``data``
    limit=<1..200>  cursor=<opaque>  count=true

``<path>`` is one or more names (letters, digits, underscore; not starting with a digit)
joined by dots: ``address.city``. ``<value>`` is JSON: ``42``, ``"bob"``, ``true``,
``["a","b"]``. Operators:

==========  ====================================================================
eq / neq    the field exists and equals / differs from the value (JSON equality:
            ``1`` equals ``1.0``, ``true`` does not equal ``1``)
lt lte      the field has the value's type (number or string) and compares so;
gt gte      strings compare by code point
in          the value is a JSON array (1 to 100 items); the field equals one of them
contains    the value is a scalar; the field is an array with an element equal to it
exists      the value is ``true`` or ``false``: the field is present / absent
            (a JSON ``null`` counts as present)
search      the value is a string; the field is a string holding every word of it
            (full-text, ``simple`` configuration: case-insensitive, no stemming)
==========  ====================================================================

A missing field matches nothing except ``exists:false``. Order keys are a path, or
``$created_at`` / ``$updated_at``. Anything else is a :class:`FilterError` (HTTP 400).
Values always travel as bound parameters, never as SQL text.

The same model compiles PostgREST's grammar (``compat.rest.grammar``), which needs more than
this text grammar offers; those parts are built as objects, never parsed from ``filter=``:

* a :class:`Condition` on a record column (``column``: ``id``, ``created_at``,
  ``updated_at``, ``end_user_id``) or on a field's text (``as_text``: ``data #>> path``);
* the operators ``like`` / ``ilike`` (a SQL pattern on the field's text), ``contained``
  (``<@``: the field is an array or object inside the value), ``fts`` (value ``(config,
  function, query)``: ``to_tsvector(config, field) @@ function(config, query)``), and
  ``contains`` with an array or object value (``@>``);
* :class:`AllOf`, :class:`AnyOf` and :class:`Not` over conditions (SQL ``AND``/``OR``/``NOT``,
  with SQL's NULL logic: a missing field makes a comparison NULL, and ``NOT`` keeps it so).
"""

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from datastore.constants import (
    DEFAULT_PAGE,
    FIELD_SEGMENT_PATTERN,
    MAX_FILTERS,
    MAX_IN_VALUES,
    MAX_PAGE,
    MAX_PATH_DEPTH,
)
from platform_site import parsers

OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "in", "contains", "exists", "search")
COLUMN_KEYS = {"$created_at": "created_at", "$updated_at": "updated_at"}
# Record columns a condition may name (PostgREST's layer), with their SQL types.
COLUMN_TYPES = {
    "id": "uuid",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "end_user_id": "uuid",
}
TSQUERY_FUNCTIONS = ("to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery")
_LIKE = {"like": "LIKE", "ilike": "ILIKE"}
_PATH_RE = re.compile(rf"{FIELD_SEGMENT_PATTERN}(?:\.{FIELD_SEGMENT_PATTERN})*\Z")
_COMPARE = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
DATA = '"datastore_record"."data"'


class FilterError(ValueError):
    """A filter, order, field list or cursor that does not follow the grammar."""


def parse_path(text: str) -> list[str]:
    if not isinstance(text, str) or not _PATH_RE.match(text):
        raise FilterError(f"{text!r} is not a field path (names joined by dots).")
    path = text.split(".")
    if len(path) > MAX_PATH_DEPTH:
        raise FilterError(f"A field path has at most {MAX_PATH_DEPTH} parts.")
    return path


def _reject_constant(name: str):
    raise FilterError(f"{name} is not a JSON value.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FilterError(f"{text} is out of range.")
    return value


def parse_json(text: str) -> Any:
    """A filter's JSON value, held to the rules of every JSON value from a client (no NUL, no
    unpaired surrogate, bounded depth: ``platform_site.parsers``)."""
    try:
        return parsers.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except parsers.UnsafeValue as exc:
        raise FilterError(str(exc)) from None
    except ValueError as exc:
        if isinstance(exc, FilterError):
            raise
        raise FilterError(f"{text[:60]!r} is not valid JSON.") from None


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class Expression:
    """A condition, or a combination of them, that compiles to a SQL boolean."""

    def sql(self) -> tuple[str, list]:
        raise NotImplementedError

    def expression(self) -> RawSQL:
        sql, params = self.sql()
        # SQL text from fixed templates; paths and values are bound parameters.
        return RawSQL(sql, params, output_field=BooleanField())  # noqa: S611


@dataclass(frozen=True)
class Condition(Expression):
    path: tuple[str, ...]
    op: str
    value: Any
    column: str | None = None  # a record column (COLUMN_TYPES) instead of a data path
    as_text: bool = False  # compare the field's text (``#>>``) with a string value

    def sql(self) -> tuple[str, list]:
        if self.column is not None:
            return self._column_sql()
        if self.as_text:
            return self._text_sql()
        path = list(self.path)
        field = f"({DATA} #> %s)"
        op, value = self.op, self.value
        if op in _LIKE:
            return (
                f"(jsonb_typeof({field}) = 'string' AND ({DATA} #>> %s) {_LIKE[op]} %s)",
                [path, path, value],
            )
        if op == "contained":
            kind = "array" if isinstance(value, list) else "object"
            return (
                f"(jsonb_typeof({field}) = '{kind}' AND {field} <@ %s::jsonb)",
                [path, path, dumps(value)],
            )
        if op == "fts":
            config, function, query = value
            if function not in TSQUERY_FUNCTIONS:
                raise FilterError(f"{function} is not a text search function.")
            return (
                f"(jsonb_typeof({field}) = 'string' AND to_tsvector(%s::regconfig, "
                f"{DATA} #>> %s) @@ {function}(%s::regconfig, %s))",
                [path, config, path, config, query],
            )
        if op == "eq":
            return f"{field} = %s::jsonb", [path, dumps(value)]
        if op == "neq":
            return f"{field} <> %s::jsonb", [path, dumps(value)]
        if op in _COMPARE:
            symbol = _COMPARE[op]
            if isinstance(value, str):
                return (
                    f"(jsonb_typeof({field}) = 'string' AND "
                    f'({DATA} #>> %s) COLLATE "C" {symbol} %s)',
                    [path, path, value],
                )
            return (
                f"(jsonb_typeof({field}) = 'number' AND {field} {symbol} %s::jsonb)",
                [path, path, dumps(value)],
            )
        if op == "in":
            return f"{field} = ANY(%s::jsonb[])", [path, [dumps(v) for v in value]]
        if op == "contains":
            # data @> {"a": {"b": [v]}}: the GIN index answers it. An array or an object
            # value (PostgREST's cs) is contained as it is.
            nested: Any = value if isinstance(value, dict | list) else [value]
            for part in reversed(path):
                nested = {part: nested}
            return f"{DATA} @> %s::jsonb", [dumps(nested)]
        if op == "exists":
            return f"{field} IS {'NOT ' if value else ''}NULL", [path]
        if op == "search":
            return (
                f"(jsonb_typeof({field}) = 'string' AND to_tsvector('simple', {DATA} #>> %s)"
                " @@ plainto_tsquery('simple', %s))",
                [path, path, value],
            )
        raise AssertionError(op)

    def jsonpath(self, var: str) -> tuple[str, dict]:
        """The condition as a strict-mode SQL/JSON path predicate over a record's data, its
        value in the variable ``$<var>`` (bound, never part of the text): what an access rule's
        condition compiles to, with the semantics of :meth:`sql` (``datastore.matching`` is the
        Python twin of both).

        Each condition is a definite true or false (``exists($ ? (...))``): a missing field
        or a type mismatch filters the root out instead of raising, as a NULL does in SQL.
        """
        op, value = self.op, self.value
        if self.column is not None or self.as_text or op not in OPERATORS:
            raise FilterError(f"{op} on this field cannot be an access rule condition.")
        if op == "search" or (op != "in" and isinstance(value, dict | list)):
            raise FilterError(f"{op} with this value cannot be an access rule condition.")
        field = "@" + "".join(f'."{part}"' for part in self.path)  # parts match a name pattern
        names = {}
        if op == "exists":
            test = f"exists($ ? (exists({field})))"
            return (test if value else f"!{test}"), names
        if op == "in":
            if any(isinstance(v, dict | list) for v in value):
                raise FilterError("in takes scalar values in an access rule condition.")
            names = {f"{var}_{i}": v for i, v in enumerate(value)}
            predicate = " || ".join(f"{field} == ${name}" for name in names)
        elif op == "eq":
            names = {var: value}
            predicate = f"{field} == ${var}"
        elif op == "neq":
            # Another JSON type differs too, as jsonb <> does.
            names = {var: value, f"{var}_t": _json_type(value)}
            predicate = f"{field}.type() != ${var}_t || {field} != ${var}"
        elif op == "contains":
            names = {var: value}
            predicate = f"exists({field}[*] ? (@ == ${var}))"
        else:
            names = {var: value, f"{var}_t": _json_type(value)}
            symbol = _COMPARE[op]
            predicate = f"{field}.type() == ${var}_t && {field} {symbol} ${var}"
        return f"exists($ ? ({predicate}))", names

    def _column_sql(self) -> tuple[str, list]:
        column = f'"datastore_record"."{self.column}"'
        kind = COLUMN_TYPES[self.column]
        op, value = self.op, self.value
        if op == "exists":
            return f"{column} IS {'NOT ' if value else ''}NULL", []
        if op in _LIKE:
            return f"({column}::text {_LIKE[op]} %s)", [value]
        if op == "in":
            return f"{column} = ANY(%s::{kind}[])", [list(value)]
        symbol = {"eq": "=", "neq": "<>", **_COMPARE}.get(op)
        if symbol is None:
            raise FilterError(f"{op} does not apply to the column {self.column}.")
        return f"{column} {symbol} %s::{kind}", [value]

    def _text_sql(self) -> tuple[str, list]:
        field = f'({DATA} #>> %s) COLLATE "C"'
        path = list(self.path)
        op, value = self.op, self.value
        if op == "exists":
            return f"({DATA} #>> %s) IS {'NOT ' if value else ''}NULL", [path]
        if op in _LIKE:
            return f"(({DATA} #>> %s) {_LIKE[op]} %s)", [path, value]
        if op == "in":
            return f"({DATA} #>> %s) = ANY(%s::text[])", [path, list(value)]
        symbol = {"eq": "=", "neq": "<>", **_COMPARE}.get(op)
        if symbol is None:
            raise FilterError(f"{op} does not apply to a field's text.")
        return f"{field} {symbol} %s", [path, value]


@dataclass(frozen=True)
class AllOf(Expression):
    parts: tuple[Expression, ...]

    def sql(self) -> tuple[str, list]:
        return _joined(self.parts, "AND", "TRUE")


@dataclass(frozen=True)
class AnyOf(Expression):
    parts: tuple[Expression, ...]

    def sql(self) -> tuple[str, list]:
        return _joined(self.parts, "OR", "FALSE")


@dataclass(frozen=True)
class Not(Expression):
    part: Expression

    def sql(self) -> tuple[str, list]:
        sql, params = self.part.sql()
        return f"(NOT {sql})", params


def _joined(parts, word: str, empty: str) -> tuple[str, list]:
    if not parts:
        return empty, []
    texts, params = [], []
    for part in parts:
        sql, args = part.sql()
        texts.append(sql)
        params += args
    return "(" + f" {word} ".join(texts) + ")", params


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    return "number"


def compile_jsonpath(conditions: tuple[Condition, ...]) -> tuple[str | None, dict]:
    """All of ``conditions`` as one strict SQL/JSON path predicate and its variables."""
    if not conditions:
        return None, {}
    parts, variables = [], {}
    for i, condition in enumerate(conditions):
        text, names = condition.jsonpath(f"v{i}")
        parts.append(f"({text})")
        variables.update(names)
    return "strict " + " && ".join(parts), variables


def parse_condition(text: str) -> Condition:
    if not isinstance(text, str):
        raise FilterError("A filter is <path>:<op>:<value>.")
    parts = text.split(":", 2)
    if len(parts) != 3:
        raise FilterError(f"{text[:60]!r} is not <path>:<op>:<value>.")
    raw_path, op, raw_value = parts
    path = tuple(parse_path(raw_path))
    if op not in OPERATORS:
        raise FilterError(f"Unknown operator {op[:20]!r}; use one of {', '.join(OPERATORS)}.")
    value = parse_json(raw_value)
    _check_value(op, value)
    return Condition(path, op, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(op: str, value: Any) -> None:
    if op in _COMPARE and not (_is_number(value) or isinstance(value, str)):
        raise FilterError(f"{op} compares with a number or a string.")
    if op == "in" and not (isinstance(value, list) and 0 < len(value) <= MAX_IN_VALUES):
        raise FilterError(f"in takes a JSON array of 1 to {MAX_IN_VALUES} values.")
    if op == "contains" and isinstance(value, dict | list):
        raise FilterError("contains takes a single value (string, number, boolean or null).")
    if op == "exists" and not isinstance(value, bool):
        raise FilterError("exists takes true or false.")
    if op == "search" and not (isinstance(value, str) and 0 < len(value) <= 200):
        raise FilterError("search takes a string of 1 to 200 characters.")


@dataclass(frozen=True)
class OrderKey:
    column: str | None  # a record column, or None for a data path
    path: tuple[str, ...]
    descending: bool
    # PostgREST's order: nulls first or last (None: last ascending, first descending, as in
    # PostgreSQL), and a field's text (``->>``) rather than its JSON value.
    nulls_first: bool | None = None
    as_text: bool = False

    @property
    def text(self) -> str:
        name = next((k for k, v in COLUMN_KEYS.items() if v == self.column), None)
        return ("-" if self.descending else "") + (name or ".".join(self.path))

    def expression(self) -> tuple[str, list]:
        if self.column:
            return f'"datastore_record"."{self.column}"', []
        if self.as_text:
            return f'({DATA} #>> %s) COLLATE "C"', [list(self.path)]
        return f"({DATA} #> %s)", [list(self.path)]


def parse_order(text: str | None) -> OrderKey:
    text = text or "$created_at"
    descending = text.startswith("-")
    name = text[1:] if descending else text
    if name in COLUMN_KEYS:
        return OrderKey(COLUMN_KEYS[name], (), descending)
    return OrderKey(None, tuple(parse_path(name)), descending)


@dataclass(frozen=True)
class ListQuery:
    conditions: tuple[Condition, ...] = ()
    order: OrderKey = OrderKey("created_at", (), False)
    fields: tuple[tuple[str, ...], ...] | None = None
    limit: int = DEFAULT_PAGE
    cursor: dict | None = None
    count: bool = False


def parse_list_query(params) -> ListQuery:
    """Parse a QueryDict (or a dict of lists) into a :class:`ListQuery`."""
    getlist = params.getlist if hasattr(params, "getlist") else lambda k: params.get(k, [])
    filters = getlist("filter")
    if len(filters) > MAX_FILTERS:
        raise FilterError(f"At most {MAX_FILTERS} filters.")
    conditions = tuple(parse_condition(f) for f in filters)
    order = parse_order(_single(getlist, "order"))
    fields_text = _single(getlist, "fields")
    fields = None
    if fields_text is not None:
        fields = tuple(tuple(parse_path(f)) for f in fields_text.split(",") if f)
    limit_text = _single(getlist, "limit")
    limit = DEFAULT_PAGE
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise FilterError(f"limit is a whole number from 1 to {MAX_PAGE}.")
        limit = int(limit_text)
    cursor_text = _single(getlist, "cursor")
    cursor = decode_cursor(cursor_text, order) if cursor_text else None
    count_text = _single(getlist, "count")
    if count_text not in (None, "true", "false"):
        raise FilterError("count is true or false.")
    return ListQuery(conditions, order, fields, limit, cursor, count_text == "true")


def _single(getlist, name: str) -> str | None:
    values = getlist(name)
    if len(values) > 1:
        raise FilterError(f"{name} may be given once.")
    return values[0] if values else None


def encode_cursor(order: OrderKey, value: Any, record_id, *, present: bool = True) -> str:
    raw = dumps({"o": order.text, "v": value, "p": present, "id": str(record_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str, order: OrderKey) -> dict:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, binascii.Error, FilterError):
        raise FilterError("cursor is not valid.") from None
    if (
        not isinstance(cursor, dict)
        or cursor.get("o") != order.text
        or not isinstance(cursor.get("id"), str)
        or not isinstance(cursor.get("p"), bool)
        or not re.fullmatch(r"[0-9a-f-]{36}", cursor["id"])
    ):
        raise FilterError("cursor is not valid for this order.")
    try:
        uuid.UUID(cursor["id"])
        if order.column:
            datetime.fromisoformat(cursor["v"])
    except (TypeError, ValueError):
        raise FilterError("cursor is not valid.") from None
    return cursor


def keyset(order: OrderKey, cursor: dict) -> RawSQL:
    """Rows after the cursor in (key, id) order; a missing key sorts last ascending."""
    expr, params = order.expression()
    cast = "::timestamptz" if order.column else "::jsonb"
    # For a data path, a JSON null is a value and an absent key is SQL NULL.
    present = order.column or cursor["p"]
    value = cursor["v"] if order.column else (dumps(cursor["v"]) if present else None)
    rid = cursor["id"]
    ident = '"datastore_record"."id"'
    if not order.descending:
        if value is None:
            sql = f"({expr} IS NULL AND {ident} > %s::uuid)"
            args = [*params, rid]
        else:
            sql = (
                f"({expr} > %s{cast} OR {expr} IS NULL OR "
                f"({expr} = %s{cast} AND {ident} > %s::uuid))"
            )
            args = [*params, value, *params, *params, value, rid]
    elif value is None:
        sql = f"({expr} IS NOT NULL OR {ident} < %s::uuid)"
        args = [*params, rid]
    else:
        sql = f"({expr} < %s{cast} OR ({expr} = %s{cast} AND {ident} < %s::uuid))"
        args = [*params, value, *params, value, rid]
    return RawSQL(sql, args, output_field=BooleanField())  # noqa: S611


def value_at(data: Any, path) -> tuple[bool, Any]:
    """(present, value) of ``path`` inside ``data``, walking objects only."""
    node = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def select_fields(data: dict, fields) -> dict:
    if fields is None:
        return data
    out: dict = {}
    for path in fields:
        node: Any = data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            target = out
            for part in path[:-1]:
                target = target.setdefault(part, {})
                if not isinstance(target, dict):
                    break
            else:
                target[path[-1]] = node
    return out
