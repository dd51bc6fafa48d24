"""Real-time hotkey detection: a sampled, sliding-window top-K of key accesses in Redis.

Each sampled access adds ``1 / sample_rate`` to the key's score in the sorted set of its
second, ``hk:<epoch second>`` (ZINCRBY + EXPIRE in one pipeline: one round trip, and only for
the sampled fraction; unsampled accesses cost a random number). ``top_hotkeys(n, window)``
merges the last ``window`` one-second sets with ZUNIONSTORE on the server and returns the
``n`` highest scores as rates per second. Buckets expire on their own, so nothing needs
cleaning, and every process adds to the same sets.

``check_threshold()`` sends ``cache.signals.hotkey_detected`` for keys at or above
``REDIS_HOTKEY_THRESHOLD`` per second, at most once per key per ``REDIS_HOTKEY_ALERT_COOLDOWN``
seconds across all processes (a SET NX marker). The metrics sampler calls it every 5 s.
"""

import random
import time
import uuid

import structlog
from django.conf import settings

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis
from cache.signals import hotkey_detected

logger = structlog.get_logger(__name__)

PREFIX = "platform:hk:"
MAX_WINDOW = 300
_BUCKET_TTL = MAX_WINDOW + 5


def sample_rate() -> float:
    return float(getattr(settings, "REDIS_HOTKEY_SAMPLE_RATE", 0.01))


def _bucket(second: int) -> str:
    return f"{PREFIX}{second}"


def record_access(key: str, *, rate: float | None = None) -> bool:
    """Sample one access of ``key``. True when it was recorded. Never raises."""
    rate = sample_rate() if rate is None else rate
    if rate <= 0 or (rate < 1 and random.random() >= rate):
        return False
    bucket = _bucket(int(time.time()))
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.zincrby(bucket, 1.0 / min(rate, 1.0), key)
        pipe.expire(bucket, _BUCKET_TTL)
        redis_call(pipe.execute)
    except RedisUnavailable:
        return False
    return True


def top_hotkeys(n: int = 10, window: int = 10) -> list[dict]:
    """The ``n`` most accessed keys over the last ``window`` seconds (current one included),
    highest first, as ``{"key", "rate" (per second), "estimated_count"}``."""
    window = max(1, min(int(window), MAX_WINDOW))
    now = int(time.time())
    buckets = [_bucket(second) for second in range(now - window + 1, now + 1)]
    merged = f"{PREFIX}merge:{uuid.uuid4().hex}"
    pipe = get_redis().pipeline(transaction=True)
    pipe.zunionstore(merged, buckets)
    pipe.zrevrange(merged, 0, n - 1, withscores=True)
    pipe.delete(merged)
    rows = redis_call(pipe.execute)[1]
    return [
        {
            "key": key.decode() if isinstance(key, bytes) else key,
            "rate": round(score / window, 3),
            "estimated_count": round(score),
        }
        for key, score in rows
    ]


def check_threshold(window: int = 10) -> list[dict]:
    """Alert on keys at or above the threshold; returns the keys alerted now."""
    threshold = float(getattr(settings, "REDIS_HOTKEY_THRESHOLD", 1000.0))
    cooldown = int(getattr(settings, "REDIS_HOTKEY_ALERT_COOLDOWN", 300))
    try:
        hot = [row for row in top_hotkeys(20, window) if row["rate"] >= threshold]
        alerted = []
        for row in hot:
            marker = f"{PREFIX}alerted:{row['key']}"
            if redis_call(get_redis().set, marker, 1, nx=True, ex=cooldown):
                alerted.append(row)
    except RedisUnavailable:
        return []
    for row in alerted:
        logger.warning("redis_hotkey_detected", key=row["key"], rate=row["rate"])
        hotkey_detected.send(
            sender=check_threshold,
            key=row["key"],
            rate=row["rate"],
            window=window,
            threshold=threshold,
        )
    return alerted
