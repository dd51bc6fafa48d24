"""Subscription filters: the data API's record filter grammar, tested on each change event.

A subscription's ``filter`` is any of

* a list of filter strings, ``["status:eq:\\"open\\"", "n:gte:2"]``;
* the data API's query string, ``filter=status:eq:%22open%22&filter=n:gte:2`` (the text after
  ``?`` of a ``GET .../records/`` URL, minus order and paging: percent-decoded, ``+`` is a
  space);
* an object, ``{"status": "open", "n": 2}``: shorthand for one ``eq`` filter per key.

Every filter is ``<path>:<op>:<JSON value>`` parsed by ``datastore.filters.parse_condition``
(same operators, limits and error messages as the data API); all must hold. A change event is
tested on the record's data after the change (before it, for a delete) with
``datastore.matching``, the Python twin of the SQL the data API runs, so a subscriber receives
exactly the writes whose record the data API would list with the same filters. The rare
``search`` whose text Python cannot tokenize like PostgreSQL is decided by PostgreSQL.
"""

from urllib.parse import parse_qsl

from datastore.constants import MAX_FILTERS
from datastore.filters import Condition, FilterError, dumps, parse_condition, parse_path
from datastore.matching import evaluate_all, evaluate_in_database

__all__ = ["FilterError", "accepts", "decide", "parse_filter", "subject"]


def parse_filter(raw) -> tuple[Condition, ...]:
    """The conditions of a subscription's ``filter``; :class:`FilterError` when invalid."""
    if raw in (None, "", [], {}):
        return ()
    if isinstance(raw, list | dict) and len(raw) > MAX_FILTERS:
        raise FilterError(f"At most {MAX_FILTERS} filters.")
    if isinstance(raw, list):
        texts = raw
    elif isinstance(raw, str):
        texts = _query_string(raw)
    elif isinstance(raw, dict):
        texts = [_equality(field, value) for field, value in raw.items()]
    else:
        raise FilterError(
            "filter is a list of <path>:<op>:<value> strings, a filter=...&filter=... query"
            " string, or an object of field values."
        )
    return tuple(parse_condition(text) for text in texts)


def _query_string(raw: str) -> list[str]:
    try:
        pairs = parse_qsl(
            raw, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FILTERS
        )
    except ValueError:
        raise FilterError(
            f"filter must look like filter=<path>:<op>:<value>&... (at most {MAX_FILTERS})."
        ) from None
    if any(name != "filter" for name, _ in pairs):
        raise FilterError("A filter query string has only filter=<path>:<op>:<value> terms.")
    return [text for _, text in pairs]


def _equality(field, value) -> str:
    parse_path(field)
    try:
        return f"{field}:eq:{dumps(value)}"
    except (TypeError, ValueError):
        raise FilterError("filter values are JSON values.") from None


def subject(event: dict) -> dict:
    """The record data a change event is filtered on.

    ``record`` is what subscribers receive; when the publisher's data differs from it (the data
    API adds the record's ``id``), the event carries the difference as ``data_delta``.
    """
    record = event.get("record") or {}
    delta = event.get("data_delta")
    if not delta:
        return record
    data = {key: value for key, value in record.items() if key not in delta["drop"]}
    data.update(delta["put"])
    return data


def decide(conditions, event: dict) -> bool | None:
    """Whether the event passes; None when only PostgreSQL can tell (see ``accepts``)."""
    return evaluate_all(conditions, subject(event))


def accepts(conditions, event: dict) -> bool:
    """``decide``, asking PostgreSQL (synchronously) when Python cannot tell."""
    verdict = decide(conditions, event)
    if verdict is None:
        return evaluate_in_database(conditions, subject(event))
    return verdict
