"""Cache warming: after Redis is emptied, the warm step brings the hit rate back at once.

Hits and misses are counted by the session cache itself (``cache.sessions.stats``), one per
authenticated request.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from authn import tokens
from authn.models import Session
from tests.authn.helpers import as_platform_admin, bearer
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _sessions(users, count, *, seen_ago, revoked=False):
    now = timezone.now()
    rows = [
        Session(
            user=users[i % len(users)],
            created_at=now - timedelta(days=2),
            last_seen_at=now - seen_ago - timedelta(seconds=i),
            expires_at=now + timedelta(days=7),
            revoked_at=now if revoked else None,
        )
        for i in range(count)
    ]
    return Session.objects.bulk_create(rows)


def _request_all(sessions, users_by_id):
    statuses = []
    for session in sessions:
        access = tokens.access_token_for(user=users_by_id[session.user_id], session_id=session.pk)
        statuses.append(bearer(APIClient(), access).get("/api/v1/auth/me/").status_code)
    return statuses


def test_warming_after_a_flush_gives_a_hit_rate_of_at_least_90_percent(own_redis, cache_stats):
    users = [UserFactory() for _ in range(20)]
    users_by_id = {u.pk: u for u in users}
    as_platform_admin()
    recent = _sessions(users, 1050, seen_ago=timedelta(minutes=5))
    _sessions(users, 30, seen_ago=timedelta(hours=30))
    revoked = _sessions(users, 20, seen_ago=timedelta(minutes=1), revoked=True)

    # Control: after a flush, without warming, the first requests all miss.
    own_redis.client().flushall()
    start = cache_stats()
    assert _request_all(recent[:50], users_by_id) == [200] * 50
    control = cache_stats()
    assert control["misses"] - start["misses"] == 50 and control["hits"] - start["hits"] == 0

    own_redis.client().flushall()
    call_command("warm_sessions")
    warmed = list(own_redis.client().scan_iter("authn:session:*", count=500))
    assert len(warmed) == 1000  # the limit: the top 1,000 by last activity

    before = cache_stats()
    assert _request_all(recent, users_by_id) == [200] * len(recent)
    after = cache_stats()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    assert hits + misses == len(recent)
    assert hits / len(recent) >= 0.9, (hits, misses)
    assert misses == 50  # exactly the least recently seen ones beyond the limit
    assert _request_all(revoked[:5], users_by_id) == [401] * 5


def test_warming_never_overwrites_a_tombstone(own_redis, user, client_for):
    from authn.services import sessions

    client = client_for(user)
    own_redis.client().flushall()
    sessions.session_revoke(actor=user, session_id=client.session_id)
    # A stale list of live sessions (read before the revocation) is pushed afterwards.
    from cache import sessions as session_cache

    as_platform_admin()
    session = Session.objects.get(pk=client.session_id)
    added = session_cache.warm([(session.pk, user.pk, session.expires_at.timestamp())])
    assert added == 0
    assert client.get("/api/v1/auth/me/").status_code == 401
