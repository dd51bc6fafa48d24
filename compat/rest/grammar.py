"""PostgREST's query grammar, parsed into the data API's filter model (``datastore.filters``).

A collection reads as a table whose rows are ``{id, created_at, updated_at, user_id, <the
record's data fields>}`` (``user_id``: the end user who wrote the row, read-only). Filters
become :class:`~datastore.filters.Condition` trees (``AllOf``/``AnyOf``/``Not``), which the
data API compiles to SQL with bound values; nothing here writes SQL.

Values arrive as text (``age=gte.18``). A field the collection's JSON Schema types
(``properties.<name>.type``) takes a value of that type (``integer``, ``number``,
``boolean``, ``string``; a malformed one is a 400 ``22P02``). An untyped field compares by the
stored JSON value's own type: ``eq.18`` matches the number 18 and the string ``"18"``,
``gt.5`` compares numbers with 5 and strings with ``"5"``. ``a->b`` takes a JSON value,
``a->>b`` compares the field's text.

Every refusal is a :class:`GrammarError` with PostgREST's code (``PGRST100`` for a query it
cannot parse) and a message that says what is accepted.
"""

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datastore import filters
from datastore.constants import FIELD_SEGMENT_PATTERN
from datastore.filters import AllOf, AnyOf, Condition, Expression, Not, OrderKey

# The record columns and their names in the table a client sees.
COLUMNS = {
    "id": "id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "user_id": "end_user_id",
}
READ_ONLY = ("created_at", "updated_at")
RESERVED = frozenset(
    {
        "select",
        "order",
        "limit",
        "offset",
        "on_conflict",
        "columns",
        "or",
        "and",
        "not.or",
        "not.and",
    }
)
MAX_CONDITIONS = 100  # leaves of all filters of one request, logic trees included
MAX_DEPTH = 8  # nesting of and()/or()
MAX_LIST = 500  # values of one in.() or {...}
MAX_ROWS = 1000  # rows of one read, as Supabase's default max_rows
COMPARISONS = ("eq", "neq", "gt", "gte", "lt", "lte")
OPERATORS = (
    *COMPARISONS,
    "like",
    "ilike",
    "is",
    "in",
    "cs",
    "cd",
    "ov",
    "fts",
    "plfts",
    "phfts",
    "wfts",
)
TSQUERY = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
# PostgreSQL's built-in text search configurations (an unknown one would be a SQL error).
TS_CONFIGS = frozenset(
    {
        "simple",
        "arabic",
        "armenian",
        "basque",
        "catalan",
        "danish",
        "dutch",
        "english",
        "finnish",
        "french",
        "german",
        "greek",
        "hindi",
        "hungarian",
        "indonesian",
        "irish",
        "italian",
        "lithuanian",
        "nepali",
        "norwegian",
        "portuguese",
        "romanian",
        "russian",
        "serbian",
        "spanish",
        "swedish",
        "tamil",
        "turkish",
        "yiddish",
    }
)

_NAME = re.compile(FIELD_SEGMENT_PATTERN + r"\Z")
_ARROW = re.compile(r"(->>|->)")
_OPERATOR = re.compile(r"(not\.)?([a-z]+)(?:\(([a-z_]+)\))?\.", re.ASCII)
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"-?\d+\Z")
_BOOLEANS = {"true": True, "t": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"false": False, "f": False, "no": False, "off": False, "0": False}
_LOGIC = re.compile(r"(not\.)?(and|or)\((.*)\)\Z", re.DOTALL)
_RANGE = re.compile(r"\s*(?:items=)?(\d+)-(\d*)\s*\Z")


class GrammarError(Exception):
    """A request PostgREST would refuse: its HTTP status, code and message."""

    def __init__(self, message: str, *, code="PGRST100", status=400, details=None, hint=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details
        self.hint = hint


def parse_error(what: str, text: str, details: str | None = None) -> GrammarError:
    return GrammarError(f'"failed to parse {what} ({text[:120]})"', details=details)


def invalid_input(kind: str, text: str) -> GrammarError:
    return GrammarError(f'invalid input syntax for type {kind}: "{text[:120]}"', code="22P02")


def no_operator(op: str, kind: str) -> GrammarError:
    return GrammarError(f"operator does not exist: {kind} {op}", code="42883")


# --- the collection's JSON Schema, as column types ---------------------------------------------
@dataclass(frozen=True)
class Schema:
    """What a collection's JSON Schema says of its fields (nothing when it has none)."""

    json_schema: Any = None
    table: str = ""

    def _node(self, path) -> dict | None:
        node = self.json_schema
        for part in path:
            properties = node.get("properties") if isinstance(node, dict) else None
            node = properties.get(part) if isinstance(properties, dict) else None
        return node if isinstance(node, dict) else None

    def type_of(self, path) -> str | None:
        return _single_type(self._node(path))

    def item_type(self, path) -> str | None:
        node = self._node(path)
        return _single_type(node.get("items")) if node else None

    @property
    def properties(self) -> list[str]:
        properties = (self.json_schema or {}).get("properties")
        return (
            [name for name in properties if name not in COLUMNS]
            if isinstance(properties, dict)
            else []
        )

    def check_name(self, name: str) -> None:
        """A closed schema (``additionalProperties: false``) names every column there is."""
        schema = self.json_schema
        if (
            isinstance(schema, dict)
            and schema.get("additionalProperties") is False
            and name not in COLUMNS
            and name not in self.properties
        ):
            raise GrammarError(f"column {self.table}.{name} does not exist", code="42703")


def _single_type(node) -> str | None:
    kind = node.get("type") if isinstance(node, dict) else None
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else None


# --- fields: a column, a data field, an arrow path ---------------------------------------------
@dataclass(frozen=True)
class Field:
    name: str
    path: tuple[str, ...] = ()  # the data path; empty for a column
    column: str | None = None
    as_text: bool = False  # ends in ->>
    arrows: bool = False  # a -> or ->> path

    @property
    def key(self) -> str:
        """The name PostgREST gives it in a row: the last key of a path."""
        return self.path[-1] if self.arrows else self.name


def parse_field(text: str, schema: Schema, what: str = "filter") -> Field:
    parts = _ARROW.split(text)
    names, arrows = parts[0::2], parts[1::2]
    if not all(_NAME.match(n) for n in names) or "->>" in arrows[:-1]:
        raise parse_error(what, text, "A column is a name, or a name followed by ->key and ->>key.")
    first = names[0]
    schema.check_name(first)
    if first in COLUMNS:
        if arrows:
            raise no_operator(arrows[0], "uuid" if first.endswith("id") else "timestamptz")
        return Field(first, column=COLUMNS[first])
    if len(names) > filters.MAX_PATH_DEPTH:
        raise parse_error(what, text, f"A path has at most {filters.MAX_PATH_DEPTH} keys.")
    return Field(
        first, tuple(names), as_text=bool(arrows) and arrows[-1] == "->>", arrows=bool(arrows)
    )


# --- lists and quoting ---------------------------------------------------------------------------
def split_top(text: str) -> list[str]:
    """Split on the commas outside parentheses, braces and double quotes."""
    parts, start, depth, quoted, escaped = [], 0, 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
            if depth < 0:
                raise parse_error("logic tree", text, "Unbalanced parentheses.")
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth or quoted:
        raise parse_error("logic tree", text, "Unbalanced parentheses or quotes.")
    parts.append(text[start:])
    return parts


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def parse_list(text: str, opening: str, closing: str) -> list[str]:
    """``(a,"b,c")`` or ``{a,b}``: the unquoted items."""
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        raise parse_error("list", text, f"A list is {opening}a,b,...{closing}.")
    inner = text[1:-1]
    items = [unquote(item) for item in split_top(inner)] if inner else []
    if len(items) > MAX_LIST:
        raise GrammarError(f"A list has at most {MAX_LIST} values.", details=f"{len(items)} given")
    return items


# --- values --------------------------------------------------------------------------------------
def _number(text: str) -> int | float | None:
    if not _NUMBER.match(text):
        return None
    if _INTEGER.match(text):
        return int(text)
    value = float(text)
    return value if math.isfinite(value) else None


def _orderable(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )


def candidates(text: str) -> list:
    """The JSON values an untyped text may stand for: itself, a number, a boolean."""
    values: list = [text]
    number = _number(text)
    if number is not None:
        values.append(number)
    if text in ("true", "false"):
        values.append(text == "true")
    return values


def typed(text: str, kind: str) -> Any:
    """The text as a value of the JSON Schema type ``kind``, or a 400 22P02."""
    if kind == "integer":
        if not _INTEGER.match(text):
            raise invalid_input("integer", text)
        return int(text)
    if kind == "number":
        number = _number(text)
        if number is None:
            raise invalid_input("numeric", text)
        return number
    if kind == "boolean":
        if text.lower() not in _BOOLEANS:
            raise invalid_input("boolean", text)
        return _BOOLEANS[text.lower()]
    if kind in ("array", "object"):
        return json_value(text)
    return text


def json_value(text: str) -> Any:
    try:
        return filters.parse_json(text)
    except filters.FilterError:
        raise invalid_input("json", text) from None


def column_value(column: str, text: str) -> str:
    """A column's value, checked here so that PostgreSQL never sees a malformed one."""
    if filters.COLUMN_TYPES[column] == "uuid":
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise invalid_input("uuid", text) from None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise GrammarError(
            f'invalid input syntax for type timestamp with time zone: "{text[:60]}"', code="22007"
        ) from None
    return moment.isoformat()


# --- filters -------------------------------------------------------------------------------------
@dataclass
class Budget:
    """Counts the conditions of a request against MAX_CONDITIONS."""

    used: int = 0

    def take(self, n: int = 1) -> None:
        self.used += n
        if self.used > MAX_CONDITIONS:
            raise GrammarError(
                f"A request has at most {MAX_CONDITIONS} filter conditions.",
                hint="Combine values with in.(...) instead of many eq conditions.",
            )


def parse_filter(key: str, text: str, schema: Schema, budget: Budget) -> Expression:
    """``<key>=[not.]<op>[(modifier)].<value>``."""
    return _operation(parse_field(key, schema), text, schema, budget, quoted=False)


def _operation(target: Field, text: str, schema: Schema, budget: Budget, *, quoted: bool):
    match = _OPERATOR.match(text)
    if match is None:
        raise parse_error("filter", text, "A filter is [not.]<operator>.<value>, e.g. eq.5.")
    negated, op, modifier = match.groups()
    if op not in OPERATORS:
        raise parse_error(
            "filter", text, f"Unknown operator {op!r}; supported: {', '.join(OPERATORS)}."
        )
    value = text[match.end() :]
    if quoted:
        value = unquote(value)
    budget.take()
    if modifier in ("any", "all"):
        if op not in (*COMPARISONS, "like", "ilike"):
            raise parse_error("filter", text, f"{op} takes no (any)/(all) modifier.")
        items = parse_list(value, "{", "}")
        budget.take(len(items))
        parts = tuple(_leaf(target, op, None, item, schema) for item in items)
        result = AnyOf(parts) if modifier == "any" else AllOf(parts)
    else:
        result = _leaf(target, op, modifier, value, schema)
    return Not(result) if negated else result


def _leaf(target: Field, op: str, modifier: str | None, text: str, schema: Schema) -> Expression:
    if modifier is not None and op not in TSQUERY:
        raise parse_error("filter", f"{op}({modifier})", "Only fts operators take a (config).")
    if op in COMPARISONS:
        return _comparison(target, op, text, schema)
    if op in ("like", "ilike"):
        return _condition(target, op, text.replace("*", "%"), as_text=True)
    if op == "is":
        return _is(target, text)
    if op == "in":
        return _in(target, parse_list(text, "(", ")"), schema)
    if op in ("cs", "cd", "ov"):
        return _containment(target, op, text, schema)
    return _search(target, op, modifier, text)


def _condition(target: Field, op: str, value: Any, *, as_text: bool = False) -> Condition:
    if target.column is not None:
        return Condition((), op, value, column=target.column)
    return Condition(target.path, op, value, as_text=as_text or target.as_text)


def _comparison(target: Field, op: str, text: str, schema: Schema) -> Expression:
    if target.column is not None:
        return _condition(target, op, column_value(target.column, text))
    if target.as_text:
        return _condition(target, op, text)
    if target.arrows:
        value = json_value(text)
        if op not in ("eq", "neq") and not _orderable(value):
            raise no_operator(op, "jsonb")
        return _not_null(target, op, _condition(target, op, value))
    kind = schema.type_of(target.path)
    if kind is not None:
        value = typed(text, kind)
        if op not in ("eq", "neq") and (kind in ("array", "object", "boolean")):
            raise no_operator(op, kind)
        return _not_null(target, op, _condition(target, op, value))
    values = tuple(candidates(text))
    if op == "eq":
        return (
            _condition(target, "in", values) if len(values) > 1 else _condition(target, "eq", text)
        )
    if op == "neq":
        return _not_null(target, op, Not(_condition(target, "in", values)))
    ordered = [v for v in values if not isinstance(v, bool)]
    return AnyOf(tuple(_condition(target, op, v) for v in ordered))


def _not_null(target: Field, op: str, expression: Expression) -> Expression:
    """``neq``: a JSON null is not "another value", as NULL is not in SQL."""
    if op != "neq":
        return expression
    return AllOf((_condition(target, "neq", None), expression))


def _is(target: Field, text: str) -> Expression:
    word = text.lower()
    if word in ("null", "unknown"):
        if target.column is not None:
            return _condition(target, "exists", False)
        return Condition(target.path, "exists", False, as_text=True)  # missing or JSON null
    if word == "not_null":
        if target.column is not None:
            return _condition(target, "exists", True)
        return Condition(target.path, "exists", True, as_text=True)
    if word in ("true", "false"):
        if target.column is not None or target.as_text:
            raise no_operator("is", "text" if target.as_text else "uuid")
        return _condition(target, "eq", word == "true")
    raise parse_error("filter", f"is.{text}", "is takes null, not_null, true, false or unknown.")


def _in(target: Field, items: list[str], schema: Schema) -> Expression:
    if target.column is not None:
        return _condition(target, "in", tuple(column_value(target.column, i) for i in items))
    if target.as_text:
        return _condition(target, "in", tuple(items))
    if target.arrows:
        return _condition(target, "in", tuple(json_value(i) for i in items))
    kind = schema.type_of(target.path)
    if kind is not None:
        return _condition(target, "in", tuple(typed(i, kind) for i in items))
    return _condition(target, "in", tuple(v for i in items for v in candidates(i)))


def _containment(target: Field, op: str, text: str, schema: Schema) -> Expression:
    if target.column is not None or target.as_text:
        raise no_operator(f"@> ({op})", "text" if target.as_text else "uuid")
    value = None
    if text.startswith("[") or (text.startswith("{") and text[1:2] in ('"', "}")):
        try:
            value = filters.parse_json(text)
        except filters.FilterError:
            value = None
    if isinstance(value, dict) or (value is not None and op != "ov" and isinstance(value, list)):
        return _condition(target, "contains" if op == "cs" else "contained", value)
    if isinstance(value, list):  # ov with a JSON array
        return AnyOf(tuple(_condition(target, "contains", v) for v in value))
    if not text.startswith("{"):
        raise GrammarError(
            f'malformed array literal: "{text[:60]}"',
            code="22P02",
            hint='An array is {a,b}; a JSON value is ["a","b"] or {"key":"value"}.',
        )
    items = parse_list(text, "{", "}")
    kind = schema.item_type(target.path) if not target.arrows else None
    if kind is not None:
        values = [typed(i, kind) for i in items]
        if op == "cs":
            return _condition(target, "contains", values)
        if op == "cd":
            return _condition(target, "contained", values)
        return AnyOf(tuple(_condition(target, "contains", v) for v in values))
    options = [candidates(i) for i in items]
    if op == "cs":
        return AllOf(
            tuple(AnyOf(tuple(_condition(target, "contains", v) for v in o)) for o in options)
        )
    if op == "cd":  # every element one of the values, whichever type it has
        return _condition(target, "contained", [v for o in options for v in o])
    return AnyOf(tuple(_condition(target, "contains", v) for o in options for v in o))


def _search(target: Field, op: str, config: str | None, text: str) -> Expression:
    if target.column is not None:
        raise no_operator("@@", "uuid")
    config = config or "simple"
    if config not in TS_CONFIGS:
        raise GrammarError(
            f'text search configuration "{config[:40]}" does not exist',
            code="42704",
            hint=f"One of {', '.join(sorted(TS_CONFIGS))}.",
        )
    if not text.strip():
        raise parse_error("filter", f"{op}.", "A text search needs words.")
    return Condition(target.path, "fts", (config, TSQUERY[op], text))


def parse_logic(key: str, text: str, schema: Schema, budget: Budget, depth: int = 1) -> Expression:
    """``or=(a.eq.1,and(b.gt.2,c.is.null))``, ``and=(...)``, ``not.or=(...)``."""
    negated = key.startswith("not.")
    word = key.removeprefix("not.")
    if depth > MAX_DEPTH:
        raise GrammarError(f"Logic trees nest at most {MAX_DEPTH} levels.")
    if len(text) < 2 or text[0] != "(" or text[-1] != ")":
        raise parse_error("logic tree", f"{key}={text}", "A logic tree is (filter,filter,...).")
    inner = text[1:-1]
    if not inner:
        raise parse_error("logic tree", f"{key}={text}", "A logic tree needs filters.")
    parts = []
    for item in split_top(inner):
        nested = _LOGIC.match(item)
        if nested:
            sub_negated, sub_word, sub_text = nested.groups()
            sub_key = ("not." if sub_negated else "") + sub_word
            parts.append(parse_logic(sub_key, f"({sub_text})", schema, budget, depth + 1))
            continue
        name, dot, rest = item.partition(".")
        if not dot:
            raise parse_error("logic tree", item, "Each item is <column>.<operator>.<value>.")
        parts.append(
            _operation(parse_field(name, schema, "logic tree"), rest, schema, budget, quoted=True)
        )
    tree = AllOf(tuple(parts)) if word == "and" else AnyOf(tuple(parts))
    return Not(tree) if negated else tree


# --- select and order ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SelectItem:
    target: Field | None  # None: every column (*)
    alias: str | None = None

    @property
    def key(self) -> str:
        return self.alias or self.target.key


def parse_select(text: str | None, schema: Schema) -> tuple[SelectItem, ...]:
    if text is None or text.strip() in ("", "*"):
        return (SelectItem(None),)
    items = []
    for raw in split_top(text):
        item = raw.strip()
        if item == "*":
            items.append(SelectItem(None))
            continue
        if "(" in item or item.startswith("..."):
            name = re.split(r"[(!:]", item.removeprefix("..."), maxsplit=1)[0]
            if re.search(r"(?:\A|[.:])(?:count|sum|avg|min|max)\(\)", item):
                raise GrammarError("Use of aggregate functions is not allowed", code="PGRST123")
            raise GrammarError(
                f"Could not find a relationship between '{schema.table}' and '{name[:60]}' "
                "in the schema cache",
                code="PGRST200",
                hint="Embedding other collections is not supported; query each one.",
            )
        if "::" in item:
            raise parse_error("select", item, "Casts (::type) are not supported.")
        alias, colon, rest = item.partition(":")
        if not colon:
            alias, rest = None, item
        elif not _NAME.match(alias):
            raise parse_error("select", item, "An alias is a name.")
        items.append(SelectItem(parse_field(rest, schema, "select"), alias))
    return tuple(items)


def parse_order(text: str | None, schema: Schema) -> tuple[OrderKey, ...]:
    if text is None:
        return (OrderKey("created_at", (), False),)
    keys = []
    for item in text.split(","):
        name, *words = item.strip().split(".")
        target = parse_field(name, schema, "order")
        descending, nulls = False, None
        for word in words:
            if word in ("asc", "desc"):
                descending = word == "desc"
            elif word in ("nullsfirst", "nullslast"):
                nulls = word == "nullsfirst"
            else:
                raise parse_error(
                    "order", item, "A key is <column>[.asc|.desc][.nullsfirst|.nullslast]."
                )
        keys.append(
            OrderKey(
                target.column, target.path, descending, nulls_first=nulls, as_text=target.as_text
            )
        )
        if len(keys) > 10:
            raise GrammarError("An order has at most 10 keys.")
    return tuple(keys)


def parse_count(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 12:
        raise parse_error(name, text, f"{name} is a whole number of rows.")
    return int(text)


def parse_range(header: str | None) -> tuple[int, int | None] | None:
    """``Range: 0-9`` (PostgREST's items unit): (first row, last row or None)."""
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        raise GrammarError(
            "Requested range not satisfiable", code="PGRST103", status=416,
            details=f"{header[:60]!r} is not a range of rows like 0-9.",
        )  # fmt: skip
    first, last = int(match[1]), int(match[2]) if match[2] else None
    if last is not None and last < first:
        raise GrammarError(
            "Requested range not satisfiable", code="PGRST103", status=416,
            details="The upper bound of the range is below its lower bound.",
        )  # fmt: skip
    return first, last


# --- the whole request ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem, ...]
    where: Expression | None
    order: tuple[OrderKey, ...]
    offset: int = 0
    limit: int | None = None  # None: no limit asked (MAX_ROWS still holds)
    on_conflict: str | None = None
    columns: frozenset[str] | None = None


def _one(params, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise parse_error(name, ",".join(values), f"{name} may be given once.")
    return values[0] if values else None


def parse_query(params, schema: Schema, *, range_header: str | None = None) -> Query:
    """A QueryDict of ``/rest/v1/<collection>`` into a :class:`Query`."""
    budget = Budget()
    parts: list[Expression] = []
    for key in params:
        if key in RESERVED and key not in ("or", "and", "not.or", "not.and"):
            continue
        for text in params.getlist(key):
            if key in ("or", "and", "not.or", "not.and"):
                parts.append(parse_logic(key, text, schema, budget))
            else:
                parts.append(parse_filter(key, text, schema, budget))
    where = parts[0] if len(parts) == 1 else AllOf(tuple(parts)) if parts else None
    offset = parse_count(_one(params, "offset"), "offset") or 0
    limit = parse_count(_one(params, "limit"), "limit")
    requested = parse_range(range_header)
    if requested is not None:
        first, last = requested
        upper = None if limit is None else offset + limit - 1
        offset = max(offset, first)
        if last is not None:
            upper = last if upper is None else min(upper, last)
        limit = None if upper is None else max(0, upper - offset + 1)
    columns = _one(params, "columns")
    return Query(
        select=parse_select(_one(params, "select"), schema),
        where=where,
        order=parse_order(_one(params, "order"), schema),
        offset=offset,
        limit=limit,
        on_conflict=_one(params, "on_conflict"),
        columns=None if columns is None else parse_columns(columns),
    )


def parse_columns(text: str) -> frozenset[str]:
    names = [unquote(name.strip()) for name in split_top(text)]
    if not names or not all(names):
        raise parse_error("columns", text, 'columns is "a","b",...')
    return frozenset(names)


# --- Prefer --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preferences:
    returning: str = "minimal"  # minimal | representation | headers-only
    count: str | None = None  # exact | planned | estimated
    resolution: str | None = None  # merge-duplicates | ignore-duplicates


_PREFER = {
    "return": ("minimal", "representation", "headers-only"),
    "count": ("exact", "planned", "estimated"),
    "resolution": ("merge-duplicates", "ignore-duplicates"),
}


def parse_prefer(header: str | None) -> Preferences:
    """``Prefer: return=representation, count=exact``; what PostgREST does not know, or does
    not apply here (``missing=default``, ``tx=``, ``handling=``), is ignored as by PostgREST's
    default lenient handling."""
    found: dict[str, str] = {}
    for token in re.split(r"\s*[,;]\s*", header or ""):
        name, _, value = token.strip().partition("=")
        if name in _PREFER and value in _PREFER[name]:
            found[name] = value
    return Preferences(
        returning=found.get("return", "minimal"),
        count=found.get("count"),
        resolution=found.get("resolution"),
    )


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
