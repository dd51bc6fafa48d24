"""API request latency across every app process: a rolling histogram in Redis.

Each sampled API request adds 1 to one bucket of the hash of its minute,
``platform:latency:<epoch minute>``. A request only counts it in this process's memory
(``record``: a dict increment under a lock, no round trip); the counts reach Redis in one
pipeline of HINCRBY + EXPIRE per minute (``flush``) every ``LATENCY_FLUSH_SECONDS`` from a
daemon thread, as soon as ``LATENCY_FLUSH_SAMPLES`` are waiting, when the process exits, and
before this process reads the histogram. Every process behind the load balancer writes to the
same hashes, so ``p99_latency_ms(n)``, which merges the last ``n`` minutes, is the platform's
p99 and not one process's; another process's samples are at most about a second late.

Buckets are fixed and log-spaced: bucket ``i`` holds durations in ``(2^((i-1)/4), 2^(i/4)]``
ms (bucket 0: up to 1 ms, the last one: everything above ~65 s), so any percentile is known
to within one bucket, i.e. 19 % of its value. The estimate is the bucket's upper bound: it
never under-states the latency. Uniform sampling (``LATENCY_SAMPLE_RATE``) leaves
percentiles unchanged, so each sample counts once. When Redis is unavailable a flush drops
what it carried (nothing piles up in memory) and the p99 is ``None`` (no data: the alert rule
neither fires nor resolves).
"""

import atexit
import math
import os
import random
import threading
import time

import structlog
from django.conf import settings

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis
from observability import batching

PREFIX = "platform:latency:"
STEPS_PER_DOUBLING = 4
BUCKETS = 65  # bucket 64's upper bound is 2^16 ms (~65 s); slower requests land there too
MAX_WINDOW_MINUTES = 60
_TTL_SECONDS = (MAX_WINDOW_MINUTES + 1) * 60


def _now() -> float:
    return time.time()


def sample_rate() -> float:
    return float(getattr(settings, "LATENCY_SAMPLE_RATE", 1.0))


def bucket_of(ms: float) -> int:
    """The index of the bucket holding a duration of ``ms`` milliseconds."""
    if ms <= 1:
        return 0
    return min(math.ceil(STEPS_PER_DOUBLING * math.log2(ms) - 1e-9), BUCKETS - 1)


def upper_bound_ms(index: int) -> float:
    return 2 ** (index / STEPS_PER_DOUBLING)


def _key(minute: int) -> str:
    return f"{PREFIX}{minute}"


def _flush_seconds() -> float:
    return float(getattr(settings, "LATENCY_FLUSH_SECONDS", 1.0))


def _flush_samples() -> int:
    return int(getattr(settings, "LATENCY_FLUSH_SAMPLES", 500))


class _Pending:
    """This process's samples not yet in Redis: (minute, bucket) -> count."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[tuple[int, int], int] = {}
        self.samples = 0

    def add(self, minute: int, bucket: int) -> bool:
        """Count one sample; True when enough are waiting to flush now."""
        with self.lock:
            key = (minute, bucket)
            self.counts[key] = self.counts.get(key, 0) + 1
            self.samples += 1
            return self.samples >= _flush_samples()

    def take(self) -> dict[tuple[int, int], int]:
        with self.lock:
            counts, self.counts, self.samples = self.counts, {}, 0
            return counts


_pending = _Pending()


def _after_fork_in_child() -> None:
    global _pending
    _pending = _Pending()  # the parent's lock may have been held; its samples are its own


os.register_at_fork(after_in_child=_after_fork_in_child)


def record(seconds: float, *, rate: float | None = None, at: float | None = None) -> bool:
    """Sample one request's duration into this process's pending counts. True when it was
    sampled (it reaches Redis with the next flush). Never raises, never waits for Redis
    unless ``LATENCY_FLUSH_SAMPLES`` are waiting."""
    rate = sample_rate() if rate is None else rate
    if rate <= 0 or (rate < 1 and random.random() >= rate):
        return False
    minute = int((_now() if at is None else at) // 60)
    pending = _pending
    full = pending.add(minute, bucket_of(seconds * 1000))
    _flusher.ensure_running()
    if full:
        flush()
    return True


def flush() -> bool:
    """Send this process's pending counts to Redis in one pipeline. False when Redis was
    unavailable: those samples are dropped. Never raises."""
    counts = _pending.take()
    if not counts:
        return True
    try:
        pipe = get_redis().pipeline(transaction=False)
        for (minute, bucket), count in counts.items():
            pipe.hincrby(_key(minute), bucket, count)
        for minute in {minute for minute, _ in counts}:
            pipe.expire(_key(minute), _TTL_SECONDS)
        redis_call(pipe.execute)
    except RedisUnavailable:
        return False
    return True


def _flush_quietly() -> None:
    """The flusher thread's and the exit's flush: an unexpected error is logged, and the
    thread keeps flushing."""
    try:
        flush()
    except Exception:
        structlog.get_logger(__name__).exception("latency_flush_failed")


atexit.register(_flush_quietly)
_flusher = batching.Flusher("latency-flush", _flush_quietly, _flush_seconds)


def histogram(window_minutes: int = 5) -> dict[int, int]:
    """Bucket index -> count over the last ``window_minutes`` minutes (the current one
    included), every process's requests together (this one's pending counts flushed
    first). Raises ``RedisUnavailable``."""
    flush()
    window = max(1, min(int(window_minutes), MAX_WINDOW_MINUTES))
    now = int(_now() // 60)
    pipe = get_redis().pipeline(transaction=False)
    for minute in range(now - window + 1, now + 1):
        pipe.hgetall(_key(minute))
    merged: dict[int, int] = {}
    for counts in redis_call(pipe.execute):
        for index, count in counts.items():
            merged[int(index)] = merged.get(int(index), 0) + int(count)
    return merged


def percentile_ms(counts: dict[int, int], quantile: float) -> float | None:
    """The upper bound of the bucket holding the ``quantile`` rank; None without samples."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = math.ceil(quantile * total)
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return round(upper_bound_ms(index), 2)
    return round(upper_bound_ms(max(counts)), 2)


def p99_latency_ms(window_minutes: int = 5) -> float | None:
    """The platform's API p99 over the last ``window_minutes`` minutes; None without data or
    while Redis is unavailable."""
    try:
        return percentile_ms(histogram(window_minutes), 0.99)
    except RedisUnavailable:
        return None


def summary(window_minutes: int = 5) -> dict:
    """For the Studio: sample count and p99 of the last ``window_minutes`` minutes."""
    try:
        counts = histogram(window_minutes)
    except RedisUnavailable:
        return {"window_minutes": window_minutes, "samples": None, "p99_ms": None}
    return {
        "window_minutes": window_minutes,
        "samples": sum(counts.values()),
        "p99_ms": percentile_ms(counts, 0.99),
    }
