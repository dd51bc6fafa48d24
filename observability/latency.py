"""API request latency across every app process: a rolling histogram in Redis.

Each sampled API request adds 1 to one bucket of the hash of its minute,
``platform:latency:<epoch minute>`` (HINCRBY + EXPIRE in one pipeline: one round trip through
the Redis breaker, only for the sampled fraction; unsampled requests cost a random number).
Every process behind the load balancer writes to the same hashes, so ``p99_latency_ms(n)``,
which merges the last ``n`` minutes, is the platform's p99 and not one process's.

Buckets are fixed and log-spaced: bucket ``i`` holds durations in ``(2^((i-1)/4), 2^(i/4)]``
ms (bucket 0: up to 1 ms, the last one: everything above ~65 s), so any percentile is known
to within one bucket, i.e. 19 % of its value. The estimate is the bucket's upper bound: it
never under-states the latency. Uniform sampling (``LATENCY_SAMPLE_RATE``) leaves
percentiles unchanged, so each sample counts once. When Redis is unavailable the sample is
dropped and the p99 is ``None`` (no data: the alert rule neither fires nor resolves).
"""

import math
import random
import time

from django.conf import settings

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

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


def record(seconds: float, *, rate: float | None = None, at: float | None = None) -> bool:
    """Sample one request's duration. True when it was recorded. Never raises."""
    rate = sample_rate() if rate is None else rate
    if rate <= 0 or (rate < 1 and random.random() >= rate):
        return False
    key = _key(int((_now() if at is None else at) // 60))
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.hincrby(key, bucket_of(seconds * 1000), 1)
        pipe.expire(key, _TTL_SECONDS)
        redis_call(pipe.execute)
    except RedisUnavailable:
        return False
    return True


def histogram(window_minutes: int = 5) -> dict[int, int]:
    """Bucket index -> count over the last ``window_minutes`` minutes (the current one
    included), every process's requests together. Raises ``RedisUnavailable``."""
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
