"""Sessions with the Redis server really stopped, and after it comes back.

The test starts its own redis-server (append-only file on, fsync always), points the session
cache at it and kills that process; the shared Redis of the suite is never touched. Because
the server restarts from its append-only file, the stale "live" entries of sessions revoked
during the outage really come back, and the test shows they are not believed.
"""

import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from authn.models import PendingCacheInvalidation
from authn.services import session_check, sessions
from cache import sessions as session_cache
from cache.breaker import redis_breaker
from tests.authn.helpers import bearer, login
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
ME = "/api/v1/auth/me/"


def _entry(server, session_id) -> dict | None:
    raw = server.client().get(
        f"authn-test:1:{session_cache.key(session_id)}"
    ) or server.client().get(session_cache.key(session_id))
    return json.loads(raw) if raw else None


def test_sessions_survive_a_redis_outage_and_revocations_stay(
    own_redis, user, client_for, client, cache_stats, monkeypatch
):
    monkeypatch.setattr(redis_breaker, "reset_timeout", 1.0)
    live, doomed, logged_out = client_for(user), client_for(user), client_for(user)
    for c in (live, doomed, logged_out):
        assert c.get(ME).status_code == 200
    assert cache_stats()["hits"] == 3  # session_start cached them
    assert _entry(own_redis, doomed.session_id)["r"] == 0

    own_redis.kill()

    # Valid sessions keep working through PostgreSQL; a revocation made now holds.
    assert live.get(ME).status_code == 200
    sessions.session_revoke(actor=user, session_id=doomed.session_id)
    assert PendingCacheInvalidation.objects.filter(session_id=doomed.session_id).exists()
    for _ in range(4):
        assert live.get(ME).status_code == 200
        assert doomed.get(ME).status_code == 401
    assert redis_breaker.current_state == "open"
    assert cache_stats()["unavailable"] >= 3

    client.force_login(UserFactory(is_staff=True))  # the details are for operators
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert "open" in ready.json()["checks"]["redis"]["detail"]

    # Logout through the API and a fresh login, both while Redis is down.
    assert logged_out.post("/api/v1/auth/logout/").status_code == 204
    assert logged_out.get(ME).status_code == 401
    fresh = login(APIClient(), user.email)
    assert fresh.status_code == 200
    fresh_client = bearer(APIClient(), fresh.json()["access"])
    assert fresh_client.get(ME).status_code == 200

    # Redis comes back from its append-only file, with the stale "live" entries.
    own_redis.start()
    assert _entry(own_redis, doomed.session_id)["r"] == 0
    assert _entry(own_redis, logged_out.session_id)["r"] == 0
    assert _entry(own_redis, fresh.json()["session_id"]) is None

    time.sleep(1.2)  # the breaker's reset timeout: the next call is the half-open trial
    assert doomed.get(ME).status_code == 401
    assert logged_out.get(ME).status_code == 401
    assert redis_breaker.current_state == "closed"
    assert _entry(own_redis, doomed.session_id)["r"] == 1
    assert _entry(own_redis, logged_out.session_id)["r"] == 1
    assert not PendingCacheInvalidation.objects.exists()

    before = cache_stats()
    assert live.get(ME).status_code == 200
    assert fresh_client.get(ME).status_code == 200  # a miss, re-cached
    assert _entry(own_redis, fresh.json()["session_id"])["r"] == 0
    assert fresh_client.get(ME).status_code == 200  # now a hit
    after = cache_stats()
    assert after["hits"] - before["hits"] == 2 and after["misses"] - before["misses"] == 1

    ready = client.get("/health/ready")
    assert ready.status_code == 200 and "closed" in ready.json()["checks"]["redis"]["detail"]


def test_unknown_session_is_refused_while_redis_is_down(own_redis, user, client_for, monkeypatch):
    monkeypatch.setattr(redis_breaker, "reset_timeout", 1.0)
    own_redis.kill()
    assert session_check.session_is_live(session_id=uuid.uuid4(), user_id=user.pk) is False
    assert client_for(user).get(ME).status_code == 200
