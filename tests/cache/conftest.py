import pytest

from cache import metrics
from cache.breaker import redis_breaker
from cache.client import get_redis


@pytest.fixture(autouse=True)
def closed_breaker():
    redis_breaker.close()
    yield
    redis_breaker.close()


@pytest.fixture
def clean_redis():
    """Forget hotkey buckets, metric series and rate-limit counters from earlier tests."""
    client = get_redis()
    for pattern in ("platform:hk:*", "platform:metrics:*", "rl:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    metrics.reset_client_stats()
    return client


@pytest.fixture
def dead_redis(settings):
    """Point the platform's cache at a port where nothing listens (a real connection failure)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cache = dict(settings.CACHES["default"])
    cache["LOCATION"] = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {"default": cache}
    yield port
