"""Fixtures for the auth tests: real Redis servers of their own when a test must stop one."""

import pytest
from rest_framework.test import APIRequestFactory

from cache import sessions as session_cache
from cache.breaker import redis_breaker
from cache.client import get_redis
from tests.authn.helpers import OwnRedis
from tests.factories import UserFactory


def _saved_user():
    user = UserFactory()
    user.save()  # the factory skips the save after set_password: keep the password
    return user


@pytest.fixture
def user(db):
    return _saved_user()


@pytest.fixture
def other_user(db):
    return _saved_user()


@pytest.fixture(autouse=True)
def _auth_test_settings(settings, monkeypatch):
    settings.AUTHN_EMAIL_ASYNC = False
    monkeypatch.setattr(APIRequestFactory, "default_format", "json")
    # Rate-limit counters are shared by every test on the shared Redis: start each test clean.
    client = get_redis()
    keys = list(client.scan_iter(match="rl:authn:*", count=1000))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture
def own_redis(tmp_path, settings):
    """A redis-server of this test, with the session cache pointed at it."""
    server = OwnRedis(tmp_path, appendonly=True)
    server.start()
    caches = dict(settings.CACHES)
    caches["authn-test"] = {
        **settings.CACHES["default"],
        "LOCATION": server.url,
        "KEY_PREFIX": "authn-test",
    }
    settings.CACHES = caches
    settings.AUTHN_SESSION_CACHE_ALIAS = "authn-test"
    # Only the session cache moves here; the request latency histogram would keep writing to
    # the suite's Redis, and its successes would reset the one breaker's failure count.
    settings.LATENCY_SAMPLE_RATE = 0.0
    try:
        yield server
    finally:
        server.kill()
        settings.AUTHN_SESSION_CACHE_ALIAS = "default"
        redis_breaker.close()
        session_cache.reconciled()


@pytest.fixture
def cache_stats():
    """Hit/miss counters, as deltas from the start of the test."""
    start = session_cache.stats.snapshot()

    def delta() -> dict:
        now = session_cache.stats.snapshot()
        return {k: now[k] - start[k] for k in now}

    return delta
