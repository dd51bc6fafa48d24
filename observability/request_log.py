"""Client-app requests per project: the Studio's Logs page and its request counts.

A client request (one with ``request.client``, i.e. a project's key) adds one compact entry to
this process's buffer: a list append under a lock, no round trip on the request path. A
daemon thread sends the buffer to Redis in one pipeline every ``REQUEST_LOG_FLUSH_SECONDS``,
or as soon as ``REQUEST_LOG_FLUSH_ENTRIES`` wait; so do the exit and a read of the log. Per
project the pipeline appends to a stream (``XADD ... MAXLEN ~``: the last
``REQUEST_LOG_LENGTH`` requests, and ``XTRIM MINID``: none older than
``REQUEST_LOG_RETENTION_HOURS``) and adds to the project's counter of the hour (kept 25 h,
the Studio's "requests, last 24 h" tile). Redis down: a flush drops what it carried.

Entries are read back only for a project the Studio has already found under the org's RLS
context (the key names the project's id); every process writes to the same streams, so the
page shows what every app server handled.
"""

import atexit
import json
import os
import threading
import time
from dataclasses import dataclass

import structlog
from django.conf import settings

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis
from observability import batching

STREAM_PREFIX = "project:requests:log:"
COUNT_PREFIX = "project:requests:hour:"
_COUNT_TTL_SECONDS = 25 * 3600
FIELDS = ("method", "path", "route", "status", "ms", "role", "end_user", "request_id")


def stream_key(project_id) -> str:
    return f"{STREAM_PREFIX}{project_id}"


def count_key(project_id, hour: int) -> str:
    return f"{COUNT_PREFIX}{project_id}:{hour}"


class _Buffer:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries: list[tuple[str, float, str]] = []

    def add(self, project_id: str, at: float, entry: str) -> bool:
        with self.lock:
            self.entries.append((project_id, at, entry))
            return len(self.entries) >= settings.REQUEST_LOG_FLUSH_ENTRIES

    def take(self) -> list[tuple[str, float, str]]:
        with self.lock:
            entries, self.entries = self.entries, []
            return entries


_buffer = _Buffer()


def _after_fork_in_child() -> None:
    global _buffer
    _buffer = _Buffer()


os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class _Refused:
    project_id: object
    role: str = "refused"
    end_user_id: None = None


def record(request, response, seconds: float | None) -> None:
    """Buffer one client request of ``request.client``'s project (or of the project whose
    key came with a refused token). Never raises, never waits
    for Redis: a full buffer wakes the flusher thread."""
    client = getattr(request, "client", None)
    refused = getattr(request, "client_refused_project", None)
    if client is None and refused is None:
        return
    if client is None:  # a valid key with a token refused (expired, revoked, banned)
        client = _Refused(project_id=refused.id)
    match = getattr(request, "resolver_match", None)
    # One JSON field per entry: one argument to pack per XADD, one loads() to read it back.
    entry = json.dumps(
        [
            request.method,
            request.path[:300],
            match.route if match is not None and match.route else "unresolved",
            str(response.status_code),
            "" if seconds is None else f"{seconds * 1000:.1f}",
            client.role,
            str(client.end_user_id or ""),
            getattr(request, "request_id", ""),
        ],
        separators=(",", ":"),
    )
    if _buffer.add(str(client.project_id), time.time(), entry):
        _flusher.wake()
    _flusher.ensure_running()


def flush() -> bool:
    """This process's buffered entries to Redis in one pipeline; False when Redis was
    unavailable (they are dropped). Never raises."""
    entries = _buffer.take()
    if not entries:
        return True
    length = settings.REQUEST_LOG_LENGTH
    oldest_ms = int((time.time() - settings.REQUEST_LOG_RETENTION_HOURS * 3600) * 1000)
    counts: dict[tuple[str, int], int] = {}
    try:
        pipe = get_redis().pipeline(transaction=False)
        for project_id, at, entry in entries:
            pipe.xadd(stream_key(project_id), {"e": entry}, maxlen=length, approximate=True)
            hour = (project_id, int(at // 3600))
            counts[hour] = counts.get(hour, 0) + 1
        for project_id in {project_id for project_id, _, _ in entries}:
            pipe.xtrim(stream_key(project_id), minid=oldest_ms, approximate=True)
        for (project_id, hour), count in counts.items():
            pipe.incrby(count_key(project_id, hour), count)
            pipe.expire(count_key(project_id, hour), _COUNT_TTL_SECONDS)
        redis_call(pipe.execute)
    except RedisUnavailable:
        return False
    return True


def _flush_quietly() -> None:
    try:
        flush()
    except Exception:
        structlog.get_logger(__name__).exception("request_log_flush_failed")


atexit.register(_flush_quietly)
_flusher = batching.Flusher(
    "request-log-flush", _flush_quietly, lambda: settings.REQUEST_LOG_FLUSH_SECONDS
)


def entries(*, project_id, limit: int | None = None) -> list[dict]:
    """The project's logged requests, newest first (this process's buffer flushed first),
    each with ``at`` (epoch seconds) and ``id``. Raises ``RedisUnavailable``."""
    flush()
    count = limit or settings.REQUEST_LOG_LENGTH
    raw = redis_call(get_redis().xrevrange, stream_key(project_id), count=count)
    out = []
    for entry_id, fields in raw:
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        packed = fields.get(b"e", fields.get("e"))
        item = dict(zip(FIELDS, json.loads(packed), strict=False))
        item["id"] = entry_id
        item["at"] = int(entry_id.split("-")[0]) / 1000
        out.append(item)
    return out


def requests_last_24h(*, project_id) -> int | None:
    """Client requests of the project over the last 24 hours (whole hours: up to 25), every
    process's; None while Redis is unavailable."""
    try:
        flush()
        now = int(time.time() // 3600)
        keys = [count_key(project_id, hour) for hour in range(now - 24, now + 1)]
        values = redis_call(get_redis().mget, keys)
    except RedisUnavailable:
        return None
    return sum(int(v) for v in values if v is not None)
