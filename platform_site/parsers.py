"""The API's JSON parser, and the rules every JSON value from a client follows before it goes
anywhere near the database.

PostgreSQL cannot store a NUL character in text or JSONB, and rejects an unpaired UTF-16
surrogate (``"\\ud800"``) in JSON; deep nesting costs recursion in every layer that walks the
value (validation, JSON Schema, serialisation). So a body is refused with a 400 when it is
not UTF-8 JSON, is nested deeper than ``API_MAX_JSON_DEPTH`` containers, or holds a NUL or an
unpaired surrogate in any key or string. (A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes
never gets here: Django refuses to read it, a 413 in ``platform_site.errors``.) Filter values
of the data API and realtime subscriptions go through the same :func:`loads`.
"""

import json
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A NUL, or a UTF-16 surrogate code point: after json.loads, a pair such as "\ud83d\ude00" is
# one astral character, so any surrogate left in a str had no partner.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnsafeValue(ValueError):
    """A client value that cannot be stored or walked safely; its message says why."""


def check_text(text: str) -> None:
    if (not text.isascii() or "\x00" in text) and _UNSTORABLE.search(text):
        raise UnsafeValue("Text cannot contain NUL characters or unpaired surrogates.")


def check_json_value(value, *, max_depth: int | None = None) -> None:
    """Refuse NUL characters and unpaired surrogates in any key or string, and nesting deeper
    than ``max_depth`` containers (``API_MAX_JSON_DEPTH`` by default). Iterative, so a deep
    value costs no recursion here."""
    limit = settings.API_MAX_JSON_DEPTH if max_depth is None else max_depth
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            check_text(node)
        elif isinstance(node, dict | list):
            if depth > limit:
                raise UnsafeValue(f"JSON is nested more than {limit} levels deep.")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, item in items:
                if isinstance(key, str):
                    check_text(key)
                stack.append((item, depth + 1))


def loads(text: str | bytes, **kwargs):
    """``json.loads`` plus :func:`check_json_value`; every failure is an :class:`UnsafeValue`
    or a ``ValueError`` (bad JSON, a value nested too deeply to decode)."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise UnsafeValue("JSON is nested too deeply.") from None
    check_json_value(value)
    return value


def _strict_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


class JSONBodyParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # DRF hands over request.body, which Django has already held to
        # DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig, a 413 in platform_site.errors).
        try:
            return loads(stream.read().decode("utf-8"), parse_constant=_strict_constant)
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8.") from None
        except UnsafeValue as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {str(exc)[:200]}") from None
