"""Who is online in a broadcast channel: one Redis hash per (org, channel).

Field = the socket's channel name, value = ``{"user_id", "username", "meta", "seen"}`` (and,
from a Phoenix socket, the presence ``key`` it is grouped under and the ``ref`` of its last
track). A socket adds itself on join (a Phoenix socket on ``track``), refreshes ``seen`` on
every heartbeat, and removes itself on leave or disconnect; entries of sockets whose process
died without a goodbye drop out of ``state`` once ``seen`` is older than ``STALE_AFTER``.
Calls go through the breaker: with Redis away presence is empty, broadcast itself is the
channel layer's business.
"""

import json
import time

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

STALE_AFTER = 90
KEY_TTL = 3600


def _key(org_id, channel: str) -> str:
    return f"platform:rt:presence:{org_id}:{channel}"


def track(
    org_id,
    channel: str,
    socket: str,
    *,
    user_id,
    username: str,
    meta: dict,
    key: str | None = None,
    ref: str | None = None,
) -> None:
    entry = {"user_id": user_id, "username": username, "meta": meta, "seen": time.time()}
    if key is not None:
        entry.update(key=key, ref=ref)
    pipe = get_redis().pipeline(transaction=False)
    pipe.hset(_key(org_id, channel), socket, json.dumps(entry))
    pipe.expire(_key(org_id, channel), KEY_TTL)
    try:
        redis_call(pipe.execute)
    except RedisUnavailable:
        pass


def untrack(org_id, channel: str, socket: str) -> None:
    try:
        redis_call(get_redis().hdel, _key(org_id, channel), socket)
    except RedisUnavailable:
        pass


def state(org_id, channel: str) -> dict[str, dict]:
    """Live entries keyed by socket (one user may be online from several sockets)."""
    try:
        raw = redis_call(get_redis().hgetall, _key(org_id, channel))
    except RedisUnavailable:
        return {}
    cutoff = time.time() - STALE_AFTER
    live = {}
    for socket, value in raw.items():
        entry = json.loads(value)
        if entry["seen"] >= cutoff:
            live[socket.decode() if isinstance(socket, bytes) else socket] = entry
    return live
