"""Subscription filters on record fields.

Today: equality only, given as an object (``{"status": "open"}``) or a query string
(``status=open&priority=2``, values compared as text). When the data API's filter grammar
lands, ``parse_filter`` is where it plugs in.
"""

from urllib.parse import parse_qsl

MAX_TERMS = 10


class InvalidFilter(ValueError):
    pass


def parse_filter(raw) -> dict[str, object]:
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        try:
            pairs = parse_qsl(
                raw, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_TERMS
            )
        except ValueError as exc:
            raise InvalidFilter("filter must look like field=value&field=value") from exc
        terms: dict[str, object] = {}
        for field, value in pairs:
            terms[field] = ("text", value)
    elif isinstance(raw, dict):
        terms = {field: ("exact", value) for field, value in raw.items()}
    else:
        raise InvalidFilter("filter must be an object or a query string")
    if len(terms) > MAX_TERMS:
        raise InvalidFilter(f"at most {MAX_TERMS} filter terms")
    for field, (_, value) in terms.items():
        if not isinstance(field, str) or not field or len(field) > 64:
            raise InvalidFilter("filter fields are non-empty names")
        if isinstance(value, dict | list):
            raise InvalidFilter("filter values are scalars")
    return terms


def matches(terms: dict, record: dict) -> bool:
    for field, (kind, expected) in terms.items():
        if field not in record:
            return False
        actual = record[field]
        if kind == "text":
            actual = "true" if actual is True else "false" if actual is False else actual
            if str(actual) != expected:
                return False
        elif actual != expected:
            return False
    return True
