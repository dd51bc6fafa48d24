"""Fixed-window rate limits in Redis, with a per-process fallback while Redis is unavailable.

``hit_all([Limit(key, limit, window), ...])`` counts one request against every limit in one
pipelined round trip and returns a ``Decision`` per limit; ``hit(key, limit=..., window=...)``
is the single-limit form. With Redis up, the counts are shared by every process (INCR + EXPIRE).
With Redis unavailable (breaker open, or the call failed) the counts move to this process's
memory with the same limits: the limits still hold (a client gets at most ``limit`` per window
from each process), and nobody is refused merely because Redis is down.
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

_local_lock = threading.Lock()
# (key, window start) -> (count, window end)
_local_counts: dict[tuple[str, int], tuple[int, int]] = {}


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window: int  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    reset_in: float
    shared: bool  # False: counted in this process only (Redis unavailable)


def _window_start(window: int, now: float) -> int:
    return int(now // window) * window


def _redis_counts(limits: Sequence[Limit], starts: Sequence[int]) -> list[int]:
    pipe = get_redis().pipeline(transaction=False)
    for limit, start in zip(limits, starts, strict=True):
        redis_key = f"rl:{limit.key}:{start}"
        pipe.incr(redis_key)
        pipe.expire(redis_key, limit.window + 1)
    return [int(count) for count in pipe.execute()[::2]]


def _local_counts_for(limits: Sequence[Limit], starts: Sequence[int], now: float) -> list[int]:
    counts = []
    with _local_lock:
        for slot in [slot for slot, (_, ends) in _local_counts.items() if ends <= now]:
            del _local_counts[slot]
        for limit, start in zip(limits, starts, strict=True):
            count = _local_counts.get((limit.key, start), (0, 0))[0] + 1
            _local_counts[(limit.key, start)] = (count, start + limit.window)
            counts.append(count)
    return counts


def hit_all(limits: Sequence[Limit]) -> list[Decision]:
    """Count one request against each of ``limits``; one Decision per limit, in order."""
    if not limits:
        return []
    now = time.time()
    starts = [_window_start(limit.window, now) for limit in limits]
    shared = True
    try:
        counts = redis_call(_redis_counts, limits, starts)
    except RedisUnavailable:
        shared = False
        counts = _local_counts_for(limits, starts, now)
    return [
        Decision(count <= limit.limit, count, limit.limit, start + limit.window - now, shared)
        for limit, start, count in zip(limits, starts, counts, strict=True)
    ]


def hit(key: str, *, limit: int, window: int) -> Decision:
    return hit_all([Limit(key, limit, window)])[0]
