"""Fixed-window rate limits in Redis, with a per-process fallback while Redis is unavailable.

``hit(key, limit=..., window=...)`` counts one request and says whether it is allowed. With Redis
up, the count is shared by every process (INCR + EXPIRE in one pipeline). With the breaker open
the count moves to this process's memory with the same limit: a client is never refused because
Redis is down, and cannot exceed ``limit`` per process per window (the documented choice: fail
neither fully open nor closed).
"""

import threading
import time
from dataclasses import dataclass

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

_local_lock = threading.Lock()
_local_counts: dict[tuple[str, int], int] = {}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    reset_in: float
    shared: bool  # False: counted in this process only (Redis unavailable)


def _window_start(window: int, now: float) -> int:
    return int(now // window) * window


def _redis_count(key: str, window: int, start: int) -> int:
    pipe = get_redis().pipeline(transaction=False)
    redis_key = f"rl:{key}:{start}"
    pipe.incr(redis_key)
    pipe.expire(redis_key, window + 1)
    return int(pipe.execute()[0])


def _local_count(key: str, start: int) -> int:
    with _local_lock:
        for stale in [k for k in _local_counts if k[1] < start]:
            del _local_counts[stale]
        _local_counts[(key, start)] = _local_counts.get((key, start), 0) + 1
        return _local_counts[(key, start)]


def hit(key: str, *, limit: int, window: int) -> Decision:
    now = time.time()
    start = _window_start(window, now)
    shared = True
    try:
        count = redis_call(_redis_count, key, window, start)
    except RedisUnavailable:
        shared = False
        count = _local_count(key, start)
    return Decision(count <= limit, count, limit, start + window - now, shared)
