"""Secrets never reach a log line: a structlog processor and the patterns it hides.

Imported by the logging settings, so it must not import Django.
"""

import re
from collections.abc import Mapping

MASK = "[masked]"
# Keys whose values are secrets wherever they appear (headers, bodies, event fields).
SECRET_KEY_PATTERN = re.compile(
    r"(authorization|cookie|password|passwd|secret|token|refresh|access_key|api_key|apikey"
    r"|routing_key|signature|session_key)",
    re.IGNORECASE,
)
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*)?")
# "password": "x", password=x, 'refresh': 'x' inside free text (exception messages, bodies).
INLINE_SECRET_PATTERN = re.compile(
    r"""(?P<key>["']?(?:password|passwd|refresh|refresh_token|access_token|secret)["']?\s*[:=]\s*)"""
    r"""(?P<quote>["']?)(?P<value>[^"',&\s}]+)""",
    re.IGNORECASE,
)
# Keys structlog/django-structlog use for non-secret metadata that merely contain a word above.
SAFE_KEYS = frozenset({"session_key_present", "token_type"})


def mask_text(text: str) -> str:
    text = JWT_PATTERN.sub(MASK, text)
    return INLINE_SECRET_PATTERN.sub(
        lambda m: (
            f"{m.group('key')}{m.group('quote')}{MASK}" if m.group("value") != MASK else m.group(0)
        ),
        text,
    )


def mask_value(key: str, value, depth: int = 0):
    if key and key not in SAFE_KEYS and SECRET_KEY_PATTERN.search(key):
        return MASK if value not in (None, "", MASK) else value
    if isinstance(value, str):
        return mask_text(value)
    if depth < 4 and isinstance(value, Mapping):
        return {k: mask_value(str(k), v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list | tuple):
        return [mask_value("", v, depth + 1) for v in value]
    return value


def mask_secrets(logger, method_name, event_dict):
    """structlog processor: mask secret-named fields and JWT/password shapes in every value."""
    for key in list(event_dict):
        if key.startswith("_"):  # structlog internals (_record, _from_structlog)
            continue
        event_dict[key] = mask_value(key, event_dict[key])
    return event_dict
