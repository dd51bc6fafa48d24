"""What the rest of the platform calls to reach websockets.

* ``publish_change(...)``: a record was inserted, updated or deleted. The event goes to the
  channel-layer group of its org and collection once the surrounding transaction commits
  (immediately when there is none, e.g. from an ``on_commit`` signal handler), so a rolled-back
  write is never seen and subscribers get events in commit order. It carries the row's
  ``owner_id`` and ``owner_only``, which is all the consumer needs to decide it as row-level
  security would (``datastore.visibility``).
  ``publish_changes(...)`` does the same for the rows of a bulk write, sent in one hop.
* ``disconnect_user(user_id)`` / ``disconnect_session(sid)``: close every socket of a user or of
  one session (a revoked session must not keep listening).
* ``membership_changed(user_id, org_id)``: the user's membership in the org was removed or its
  role changed; the user's sockets re-read it at once and drop what it no longer allows.

Each change event is logged before it is sent (``realtime.replay``, in the same breaker call):
it carries the ``cursor`` of its entry in its collection's log and the ``prev`` cursor of the
entry before it, so a socket resubscribing with ``since`` replays what it missed and a socket
that sees a gap in its live events fills it from the log.

Authorisation happens in the consumer for every event (``realtime.consumers``), not here.

Redis unavailable (breaker open): a change event is dropped and logged (the write itself has
committed), and the other calls return False; sockets then still close by themselves when
their token expires, which the consumer checks on every event, and re-read memberships every
``REALTIME_MEMBERSHIP_TTL`` seconds. The process's next publish that reaches Redis first
deletes the replay logs of the collections whose events it dropped, so a socket resubscribing
with a cursor from before is told to re-list rather than replayed a log with a hole in it.
"""

import json
import time
from uuid import UUID

import structlog
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from cache.breaker import RedisUnavailable, redis_call
from realtime import layer, replay
from realtime.groups import collection_group, session_group, user_group

logger = structlog.get_logger(__name__)
OPS = frozenset({"insert", "update", "delete"})
_unlogged: set[str] = set()  # groups whose events this process dropped since its last publish


def _plain(value):
    """Channel-layer messages are msgpack: UUIDs, dates and decimals become JSON scalars."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def publish_change(
    *,
    org_id: UUID | str,
    collection_id: UUID | str | int,
    op: str,
    record: dict,
    record_id=None,
    owner_id: int | str | None,
    owner_only: bool,
    project_id: UUID | str | None = None,
    data: dict | None = None,
    end_user_id: UUID | str | None = None,
    stamps: dict | None = None,
    using: str = "default",
) -> None:
    """``record`` is what subscribers receive; subscription filters test ``data`` when given
    (the record's own fields, without what the publisher added to ``record``), else ``record``.
    ``owner_only`` is the row's own flag (its collection's access rule at write time);
    ``end_user_id`` the end user a client app's row belongs to (client sockets decide with it);
    ``stamps`` the row's ``created_at`` / ``updated_at`` (Supabase's sockets show them).
    """
    event = _change_event(
        org_id=org_id, project_id=project_id, collection_id=collection_id, op=op,
        record=record, record_id=record_id, owner_id=owner_id, owner_only=owner_only, data=data,
        end_user_id=end_user_id,
    )  # fmt: skip
    if stamps:
        event["stamps"] = _plain(stamps)
    group = collection_group(org_id, collection_id)

    def send():
        event["committed_at"] = time.time()
        _send_logged(group, [event], op)

    transaction.on_commit(send, using=using, robust=True)


def publish_changes(
    *,
    org_id: UUID | str,
    collection_id: UUID | str | int,
    op: str,
    changes: list[tuple[dict, dict | None]],
    owner_id: int | str | None,
    owner_only: bool,
    project_id: UUID | str | None = None,
    end_user_id: UUID | str | None = None,
    using: str = "default",
) -> None:
    """``publish_change`` for several rows of one collection, owner and access flag (a bulk
    write): ``changes`` is a list of ``(record, data)``, each record with its ``id``. The
    events go to the group in this order, in one hop to the sending loop."""
    batch = [
        _change_event(
            org_id=org_id,
            project_id=project_id,
            collection_id=collection_id,
            op=op,
            record=record,
            record_id=None,
            owner_id=owner_id,
            owner_only=owner_only,
            data=data,
            end_user_id=end_user_id,
        )  # fmt: skip
        for record, data in changes
    ]
    group = collection_group(org_id, collection_id)

    def send():
        committed_at = time.time()
        for event in batch:
            event["committed_at"] = committed_at
        _send_logged(group, batch, op)

    if batch:
        transaction.on_commit(send, using=using, robust=True)


def _change_event(
    *,
    org_id,
    project_id,
    collection_id,
    op,
    record,
    record_id,
    owner_id,
    owner_only,
    data,
    end_user_id=None,
) -> dict:
    if op not in OPS:
        raise ValueError(f"op must be one of {sorted(OPS)}")
    if not isinstance(owner_only, bool):
        raise TypeError("owner_only is the row's access flag, True or False")
    return {
        "type": "record.change",
        "org_id": str(org_id),
        "project_id": str(project_id) if project_id else None,
        "collection_id": str(collection_id),
        "id": _plain(record_id if record_id is not None else record.get("id")),
        "owner_id": int(owner_id) if owner_id is not None else None,
        "owner_only": owner_only,
        "end_user_id": str(end_user_id) if end_user_id else None,
        "op": op,
        "record": _plain(record),
        "data_delta": _delta(record, data),
    }


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


def _send_logged(group: str, batch: list[dict], op: str) -> None:
    """Log the events (``realtime.replay``: each gets its ``cursor``), then send them."""

    def log_and_send():
        lost = []
        while _unlogged:  # this process dropped events of these collections: their logs lie
            lost.append(_unlogged.pop())
        if lost:
            try:
                replay.forget(lost)
            except BaseException:
                _unlogged.update(lost)  # still to be forgotten
                raise
        replay.append(group, batch)
        if len(batch) == 1:
            layer.group_send(group, batch[0])
        else:
            layer.group_send_many(group, batch)

    try:
        redis_call(log_and_send)
    except RedisUnavailable:
        _unlogged.add(group)
        logger.warning("realtime_event_dropped", group=group, op=op, events=len(batch))


def _group_send(group: str, message: dict) -> bool:
    try:
        redis_call(layer.group_send, group, message)  # one connection pool per process
    except RedisUnavailable:
        return False
    return True


def disconnect_user(user_id) -> bool:
    """Close every socket of ``user_id`` (account disabled, all sessions revoked)."""
    return _group_send(user_group(user_id), {"type": "auth.revoked", "reason": "user"})


def disconnect_session(session_id: str) -> bool:
    """Close the sockets opened with tokens of session ``session_id``."""
    return _group_send(session_group(session_id), {"type": "auth.revoked", "reason": "session"})


def membership_changed(user_id, org_id) -> bool:
    """Make the user's sockets re-read their membership in ``org_id`` now."""
    return _group_send(user_group(user_id), {"type": "membership.changed", "org_id": str(org_id)})
