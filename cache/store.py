"""Cache reads the platform makes: through the breaker, computing the value when Redis is away."""

from collections.abc import Callable
from typing import TypeVar

import structlog
from django.core.cache import cache

from cache.breaker import RedisUnavailable, redis_call

logger = structlog.get_logger(__name__)
T = TypeVar("T")
_MISSING = object()


def get_or_compute(key: str, compute: Callable[[], T], *, timeout: float | None = 300) -> T:
    """The cached value of ``key``, else ``compute()`` stored for ``timeout`` seconds.

    Redis unavailable -> the value is computed and not stored (fallback: compute).
    """
    try:
        value = redis_call(cache.get, key, _MISSING)
    except RedisUnavailable:
        return compute()
    if value is not _MISSING:
        return value
    value = compute()
    try:
        redis_call(cache.set, key, value, timeout)
    except RedisUnavailable:
        logger.info("cache_store_skipped", key=key)
    return value


def cache_set(key: str, value, *, timeout: float | None = 300) -> bool:
    """Store a value; False when Redis is unavailable (the caller's data lives elsewhere)."""
    try:
        redis_call(cache.set, key, value, timeout)
    except RedisUnavailable:
        return False
    return True
