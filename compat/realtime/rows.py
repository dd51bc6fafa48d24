"""A record change as Supabase's ``postgres_changes`` shows it, and its row filter.

The row is what ``/rest/v1`` shows of a record: the columns ``id``, ``created_at``,
``updated_at``, ``user_id`` (the end user the row belongs to), then the record's data fields
(a data field of a column's name is hidden by the column).

A subscription's ``filter`` is Realtime's one PostgREST-style condition,
``<column>=<op>.<value>`` with ``eq``, ``neq``, ``lt``, ``lte``, ``gt``, ``gte`` or
``in.(a,b,"c,d")``, on a column or a top-level data field. The value is untyped text, as in
PostgREST: it equals a field holding that text, or the number or boolean it spells
(``n=eq.7`` matches ``7`` and ``"7"``); ``lt``/``gt`` compare numbers with numbers and text
with text. It compiles to the data API's conditions (``datastore.filters.Condition``) and is
decided by ``datastore.matching``, the data API's own evaluator.
"""

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from datastore.constants import MAX_IN_VALUES
from datastore.filters import Condition, FilterError, parse_path
from datastore.matching import evaluate, json_equal
from realtime import filters as realtime_filters

COLUMNS = ("id", "created_at", "updated_at", "user_id")
OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")
TYPES = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}
MAX_FILTER = 500

__all__ = ["FilterError", "RowFilter", "change_payload", "parse_filter", "row"]


@dataclass(frozen=True)
class RowFilter:
    condition: Condition
    negate: bool = False  # neq: a present, non-null field unequal to every candidate

    def matches(self, row: dict) -> bool:
        field = row.get(self.condition.path[0])
        if self.negate:
            return field is not None and not any(
                json_equal(field, value) for value in self.condition.value
            )
        return evaluate(self.condition, row) is True


def _candidates(text: str) -> list:
    """What an untyped value may equal: the text, and the JSON number or boolean it spells."""
    values: list[Any] = [text]
    try:
        typed = json.loads(text)
    except ValueError:
        return values
    if isinstance(typed, bool | int | float):
        values.append(typed)
    return values


def _number_or_text(text: str):
    typed = _candidates(text)[-1]
    return typed if isinstance(typed, int | float) and not isinstance(typed, bool) else text


def parse_filter(text) -> RowFilter | None:
    """``None`` for no filter; :class:`FilterError` with a message for a bad one."""
    if text in (None, ""):
        return None
    if not isinstance(text, str) or len(text) > MAX_FILTER:
        raise FilterError(f"filter is <column>=<op>.<value> (at most {MAX_FILTER} characters).")
    column, _, rest = text.partition("=")
    op, dot, value = rest.partition(".")
    if not dot or op not in OPERATORS:
        raise FilterError(
            f"filter {text[:60]!r} is not <column>=<op>.<value> with op one of "
            f"{', '.join(OPERATORS)}."
        )
    path = parse_path(column)
    if len(path) != 1:
        raise FilterError("filter names a column or a top-level field.")
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise FilterError("in takes a list: in.(a,b,c).")
        items = next(csv.reader([value[1:-1]], skipinitialspace=True), [])
        if not 0 < len(items) <= MAX_IN_VALUES:
            raise FilterError(f"in takes 1 to {MAX_IN_VALUES} values.")
        return RowFilter(Condition(tuple(path), "in", [v for i in items for v in _candidates(i)]))
    if op in ("eq", "neq"):
        return RowFilter(Condition(tuple(path), "in", _candidates(value)), negate=op == "neq")
    return RowFilter(Condition(tuple(path), op, _number_or_text(value)))


def row(event: dict) -> dict:
    """The row a change event shows (the record after the change; before it, for a delete)."""
    stamps = event.get("stamps") or {}
    columns = {
        "id": event.get("id"),
        "created_at": stamps.get("created_at"),
        "updated_at": stamps.get("updated_at"),
        "user_id": event.get("end_user_id"),
    }
    data = realtime_filters.subject(event)
    return {**columns, **{k: v for k, v in data.items() if k not in columns}}


def _timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def change_payload(ids: list[int], table: str, event: dict, shown: dict) -> dict:
    """The ``postgres_changes`` payload realtime-js turns into ``{eventType, new, old}``.

    ``old_record`` of an update holds the primary key only (as PostgreSQL's default replica
    identity gives Realtime); a delete's is the whole row the subscriber was allowed to read.
    """
    kind = TYPES[event["op"]]
    old = {"INSERT": {}, "UPDATE": {"id": shown["id"]}, "DELETE": shown}[kind]
    return {
        "ids": ids,
        "data": {
            "schema": "public",
            "table": table,
            "commit_timestamp": _timestamp(event.get("committed_at")),
            "type": kind,
            "columns": [],
            "record": {} if kind == "DELETE" else shown,
            "old_record": old,
            "errors": None,
        },
    }
