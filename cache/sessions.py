"""The Redis copy of auth sessions. PostgreSQL (``authn.models.Session``) is the truth.

An entry is ``authn:session:<id>`` -> JSON ``{"u": subject, "e": expires_epoch, "r": 0|1}``,
the subject being a developer's user id (a number) or an end user's id (a UUID string),
with a TTL no longer than the session's remaining life. ``r = 1`` is a tombstone: a revoked
session stays known as revoked in the cache until it would have expired anyway.

Rules that keep a revocation from being undone by a stale cache:

* A revocation is written to PostgreSQL first, then the entry is overwritten with a
  tombstone (plain ``SET``).
* Re-caching after a miss and cache warming use ``SET NX``: they never overwrite an entry,
  so a live copy read from PostgreSQL just before a revocation cannot replace its tombstone.
* When the tombstone cannot be written (Redis down, breaker open) the session id goes to
  ``PendingCacheInvalidation`` in the same transaction. After any Redis failure this process
  does not trust a cache hit again until it has written the pending tombstones (``reconcile``):
  the first request after Redis answers again does it, and so does process start. This also
  covers a Redis that restarts from its append-only file with entries older than the outage.

Every Redis call goes through ``cache.breaker.redis_call``; when it raises ``RedisUnavailable``
the caller falls back to PostgreSQL.
"""

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from django.conf import settings

from cache import entities, hotkeys, metrics
from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

logger = structlog.get_logger(__name__)

KEY_PREFIX = "authn:session:"
WARM_BATCH = 200
# Server processes warm the cache at start once per this many seconds across the deployment.
WARM_CLAIM_KEY = "authn:warm-claim"
WARM_CLAIM_SECONDS = 300


@dataclass
class CacheStats:
    """Per-process counters (also what the tests and the benchmark read)."""

    hits: int = 0
    misses: int = 0
    unavailable: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    def snapshot(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "unavailable": self.unavailable}


stats = CacheStats()
_reconcile_needed = threading.Event()
_reconcile_needed.set()  # a new process has not checked for pending tombstones yet


@dataclass(frozen=True)
class CachedSession:
    user_id: int | str
    expires_at: float
    revoked: bool

    def is_live_for(self, user_id: int | str, now: float | None = None) -> bool:
        return (
            not self.revoked and self.user_id == user_id and self.expires_at > (now or time.time())
        )


def key(session_id) -> str:
    return f"{KEY_PREFIX}{session_id}"


def _client():
    return get_redis(settings.AUTHN_SESSION_CACHE_ALIAS)


def _ttl(expires_at: float) -> int:
    return max(1, min(settings.AUTHN_SESSION_CACHE_TTL, int(expires_at - time.time()) + 1))


def _encode(user_id: int, expires_at: float, revoked: bool) -> str:
    return json.dumps({"u": user_id, "e": round(expires_at, 3), "r": int(revoked)})


def mark_unavailable() -> None:
    stats.count("unavailable")
    _reconcile_needed.set()
    entities.unavailable()


def get(session_id) -> CachedSession | None:
    """The cached copy, or None on a miss. Raises ``RedisUnavailable``."""
    cache_key = key(session_id)
    hotkeys.record_access(cache_key)  # sampled; one pipelined round trip when it samples
    started = time.perf_counter()
    try:
        if entities.epoch_wanted():
            # The entity cache's epoch comes along: one round trip for what a request needs.
            raw, epoch = redis_call(_client().mget, [cache_key, entities.EPOCH_KEY])
            entities.prime(epoch)
        else:
            raw = redis_call(_client().get, cache_key)
    except RedisUnavailable:
        mark_unavailable()
        raise
    finally:
        metrics.observe_latency(time.perf_counter() - started)
    metrics.count_read(hit=raw is not None)
    if raw is None:
        return None
    data = json.loads(raw)
    return CachedSession(user_id=data["u"], expires_at=data["e"], revoked=bool(data["r"]))


def put_live(session_id, *, user_id: int, expires_at: float) -> bool:
    """Cache a live session unless an entry (possibly a tombstone) is already there."""
    value = _encode(user_id, expires_at, False)
    try:
        return bool(redis_call(_client().set, key(session_id), value, ex=_ttl(expires_at), nx=True))
    except RedisUnavailable:
        mark_unavailable()
        return False


def put_tombstones(sessions: Iterable[tuple[object, int, float]]) -> int:
    """Overwrite entries with tombstones: ``(session_id, user_id, expires_at)``.

    Raises ``RedisUnavailable`` so the caller can record the revocation as pending.
    """
    items = list(sessions)
    if not items:
        return 0

    def write():
        pipe = _client().pipeline(transaction=False)
        for session_id, user_id, expires_at in items:
            pipe.set(key(session_id), _encode(user_id, expires_at, True), ex=_ttl(expires_at))
        return pipe.execute()

    try:
        redis_call(write)
    except RedisUnavailable:
        mark_unavailable()
        raise
    return len(items)


def warm(sessions: Iterable[tuple[object, int, float]], *, batch: int = WARM_BATCH) -> int:
    """Load live sessions in pipelined batches with ``SET NX``; returns how many were added."""
    added = 0
    items = list(sessions)
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]

        def write(chunk=chunk):
            pipe = _client().pipeline(transaction=False)
            for session_id, user_id, expires_at in chunk:
                pipe.set(
                    key(session_id),
                    _encode(user_id, expires_at, False),
                    ex=_ttl(expires_at),
                    nx=True,
                )
            return pipe.execute()

        added += sum(1 for ok in redis_call(write) if ok)
    return added


def claim_warm() -> bool:
    """True for the one process that may warm now (``SET NX`` with ``WARM_CLAIM_SECONDS``)."""
    return bool(redis_call(_client().set, WARM_CLAIM_KEY, 1, nx=True, ex=WARM_CLAIM_SECONDS))


def ping() -> None:
    """Raises ``RedisUnavailable`` unless the session cache's Redis answers."""
    try:
        redis_call(_client().ping)
    except RedisUnavailable:
        mark_unavailable()
        raise


def needs_reconcile() -> bool:
    return _reconcile_needed.is_set()


def reconciled() -> None:
    _reconcile_needed.clear()


def flush() -> int:
    """Delete every cached session (maintenance and tests)."""

    def delete_all():
        client = _client()
        removed = 0
        batch = []
        for name in client.scan_iter(match=f"{KEY_PREFIX}*", count=500):
            batch.append(name)
            if len(batch) >= 500:
                removed += client.delete(*batch)
                batch = []
        if batch:
            removed += client.delete(*batch)
        return removed

    return redis_call(delete_all)
