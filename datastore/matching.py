"""The record filter grammar evaluated on a record in hand, with the semantics of its SQL.

``datastore.filters`` compiles a :class:`~datastore.filters.Condition` to SQL over the
``data`` column; this module decides the same condition for one record's data in Python, for
callers that hold a record rather than a table row (realtime subscriptions test every change
event with it). The data API's property test checks the two against each other.

What the SQL does, and so what this does:

* paths walk objects only; a missing field matches nothing except ``exists:false``, and a JSON
  ``null`` is present;
* equality is JSONB equality: numbers by value (``1`` equals ``1.0``, compared exactly as
  PostgreSQL's ``numeric`` compares the JSON text of the float), ``true`` never equals ``1``,
  arrays in order, objects by keys and values;
* ``lt``/``lte``/``gt``/``gte`` need the field to have the value's type; strings compare by
  code point (``COLLATE "C"``);
* ``contains``: the field is an array with an element equal to the value (``@>``);
* ``search``: ``to_tsvector('simple', field) @@ plainto_tsquery('simple', value)``, every word
  of the value is a word of the field, case-insensitively. PostgreSQL's text parser knows
  hyphenated words, numbers, e-mail addresses, URLs, paths and HTML; Python reproduces it only
  for text made of ASCII letters, digits, white space and punctuation that always separates
  words (checked against PostgreSQL by tests). For any other text :func:`evaluate` answers
  ``None`` and :func:`evaluate_in_database` asks PostgreSQL the data API's own SQL.
"""

import re
from decimal import Decimal
from typing import Any

from django.db import connections

from datastore.filters import Condition, dumps, value_at

# Text the Python word splitter handles exactly as PostgreSQL's default parser: ASCII letters
# and digits; white space; punctuation that never joins words into one token. Left out on
# purpose: - . / + ~ (hyphenated words, numbers, paths, versions), & < (HTML entities, tags),
# other control and non-ASCII characters (their case folding depends on the server's locale).
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9 \t\n\r!\"#$%'()*,:;=>?@\[\\\]^_`{|}]*\Z")
_WORD = re.compile(r"[a-z0-9]+")
# PostgreSQL skips words of 2047 bytes or more and refuses a tsvector over 1 MB.
_MAX_WORD = 2000
_MAX_TEXT = 100_000


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: int | float) -> int | Decimal:
    # JSONB stores the JSON text of a float as numeric; compare that, not the binary double.
    return Decimal(repr(value)) if isinstance(value, float) else value


def json_equal(x: Any, y: Any) -> bool:
    """JSONB equality."""
    if _is_number(x) and _is_number(y):
        return _number(x) == _number(y)
    if type(x) is not type(y):
        return False
    if isinstance(x, list):
        return len(x) == len(y) and all(json_equal(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(json_equal(x[k], y[k]) for k in x)
    return x == y


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    if op == "gt":
        return a > b
    return a >= b


def search_words(text: str) -> set[str] | None:
    """The lexemes ``to_tsvector('simple', text)`` would hold, or None if only PostgreSQL
    can tell."""
    if len(text) > _MAX_TEXT or not _PLAIN_TEXT.match(text):
        return None
    words = set(_WORD.findall(text.lower()))
    if any(len(word) >= _MAX_WORD for word in words):
        return None
    return words


def evaluate(condition: Condition, data: Any) -> bool | None:
    """Whether ``data`` (a record's data) satisfies ``condition``; None: ask PostgreSQL."""
    present, field = value_at(data, condition.path)
    op, value = condition.op, condition.value
    if op == "exists":
        return present == value
    if not present:
        return False
    if op == "eq":
        return json_equal(field, value)
    if op == "neq":
        return not json_equal(field, value)
    if op in ("lt", "lte", "gt", "gte"):
        if isinstance(value, str):
            return isinstance(field, str) and _compare(op, field, value)
        return _is_number(field) and _compare(op, _number(field), _number(value))
    if op == "in":
        return any(json_equal(field, v) for v in value)
    if op == "contains":
        return isinstance(field, list) and any(json_equal(e, value) for e in field)
    if op == "search":
        if not isinstance(field, str):
            return False
        wanted, words = search_words(value), search_words(field)
        if wanted is None or words is None:
            return None
        return bool(wanted) and wanted <= words
    raise AssertionError(op)


def evaluate_all(conditions, data: Any) -> bool | None:
    """All conditions hold (True), one fails (False), or PostgreSQL must decide (None)."""
    undecided = False
    for condition in conditions:
        verdict = evaluate(condition, data)
        if verdict is False:
            return False
        undecided = undecided or verdict is None
    return None if undecided else True


def evaluate_in_database(conditions, data: Any, *, using: str = "default") -> bool:
    """The data API's own SQL for ``conditions``, run on ``data`` instead of a table row.

    Reads no table, so it needs no tenant context.
    """
    conditions = list(conditions)
    if not conditions:
        return True
    parts, params = [], []
    for condition in conditions:
        sql, args = condition.sql()
        parts.append(sql)
        params += args
    # The conditions name "datastore_record"."data"; a one-row subquery provides it.
    query = (
        f"SELECT COALESCE(({' AND '.join(parts)}), false) "
        'FROM (SELECT %s::jsonb AS data) AS "datastore_record"'
    )
    with connections[using].cursor() as cursor:
        cursor.execute(query, [*params, dumps(data)])
        return bool(cursor.fetchone()[0])


def matches(conditions, data: Any, *, using: str = "default") -> bool:
    """Python when it can decide, PostgreSQL otherwise."""
    verdict = evaluate_all(conditions, data)
    if verdict is None:
        return evaluate_in_database(conditions, data, using=using)
    return verdict
