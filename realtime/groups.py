"""Channel-layer group names (ASCII letters, digits, ``-_.``; under 100 characters)."""

import hashlib
import re

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _part(value) -> str:
    text = str(value)
    if _SAFE.match(text):
        return text
    return "h" + hashlib.sha256(text.encode()).hexdigest()[:32]


def collection_group(org_id, collection_id) -> str:
    return f"rt.col.{_part(org_id)}.{_part(collection_id)}"


def broadcast_group(org_id, channel: str) -> str:
    return f"rt.bc.{_part(org_id)}.{_part(channel)}"


def user_group(user_id) -> str:
    return f"rt.user.{_part(user_id)}"


def session_group(session_id) -> str:
    return f"rt.sid.{_part(session_id)}"
