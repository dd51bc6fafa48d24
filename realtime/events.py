"""What the rest of the platform calls to reach websockets.

* ``publish_change(...)``: a record was inserted, updated or deleted. The event goes to the
  channel-layer group of its org and collection once the surrounding transaction commits
  (immediately when there is none, e.g. from an ``on_commit`` signal handler), so a rolled-back
  write is never seen and subscribers get events in commit order.
* ``disconnect_user(user_id)`` / ``disconnect_session(sid)``: close every socket of a user or of
  one session (a revoked session must not keep listening).

Authorisation happens in the consumer for every event (``realtime.consumers``), not here.

Redis unavailable (breaker open): a change event is dropped and logged (the write itself has
committed; clients re-read on reconnect), and ``disconnect_*`` return False; sockets then still
close by themselves when their token expires, which the consumer checks on every event.
"""

import json
import time
from uuid import UUID

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.module_loading import import_string

from cache.breaker import RedisUnavailable, redis_call
from realtime.groups import collection_group, session_group, user_group

logger = structlog.get_logger(__name__)
OPS = frozenset({"insert", "update", "delete"})


def _plain(value):
    """Channel-layer messages are msgpack: UUIDs, dates and decimals become JSON scalars."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _owner_only(org_id, collection_id, owner_id, owner_only: bool | None) -> bool:
    if owner_only is not None:
        return owner_only
    resolver = getattr(settings, "REALTIME_COLLECTION_ACCESS_RESOLVER", "")
    if resolver:
        return bool(import_string(resolver)(org_id=org_id, collection_id=collection_id))
    # Unknown access rule: fail closed. Rows with an owner reach only the owner and admins.
    return owner_id is not None


def publish_change(
    *,
    org_id: UUID | str,
    collection_id: UUID | str | int,
    op: str,
    record: dict,
    record_id=None,
    owner_id: int | str | None = None,
    project_id: UUID | str | None = None,
    owner_only: bool | None = None,
    data: dict | None = None,
    using: str = "default",
) -> None:
    """``record`` is what subscribers receive; subscription filters test ``data`` when given
    (the record's own fields, without what the publisher added to ``record``), else ``record``.
    """
    if op not in OPS:
        raise ValueError(f"op must be one of {sorted(OPS)}")
    event = {
        "type": "record.change",
        "org_id": str(org_id),
        "project_id": str(project_id) if project_id else None,
        "collection_id": str(collection_id),
        "id": _plain(record_id if record_id is not None else record.get("id")),
        "owner_id": str(owner_id) if owner_id is not None else None,
        "owner_only": _owner_only(org_id, collection_id, owner_id, owner_only),
        "op": op,
        "record": _plain(record),
        "data_delta": _delta(record, data),
    }
    group = collection_group(org_id, collection_id)

    def send():
        event["committed_at"] = time.time()
        if not _group_send(group, event):
            logger.warning("realtime_event_dropped", group=group, op=op)

    transaction.on_commit(send, using=using, robust=True)


def _delta(record: dict, data: dict | None) -> dict | None:
    """How ``data`` differs from ``record`` at the top level (``realtime.filters.subject``
    rebuilds it), so an event does not carry the record twice."""
    if data is None:
        return None
    drop = [key for key in record if key not in data]
    put = {
        key: value
        for key, value in data.items()
        if key not in record or not _same(record[key], value)
    }
    return {"drop": drop, "put": _plain(put)} if drop or put else None


def _same(a, b) -> bool:
    """Equal as JSON text: 1, 1.0 and true differ, as they do to a filter."""
    if a is b:
        return True
    return json.dumps(a, cls=DjangoJSONEncoder, sort_keys=True) == json.dumps(
        b, cls=DjangoJSONEncoder, sort_keys=True
    )


def _group_send(group: str, message: dict) -> bool:
    try:
        redis_call(async_to_sync(get_channel_layer().group_send), group, message)
    except RedisUnavailable:
        return False
    return True


def disconnect_user(user_id) -> bool:
    """Close every socket of ``user_id`` (account disabled, all sessions revoked)."""
    return _group_send(user_group(user_id), {"type": "auth.revoked", "reason": "user"})


def disconnect_session(session_id: str) -> bool:
    """Close the sockets opened with tokens of session ``session_id``."""
    return _group_send(session_group(session_id), {"type": "auth.revoked", "reason": "session"})
