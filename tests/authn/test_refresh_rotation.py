"""Refresh rotation with reuse detection (GoTrue's behaviour) and one successor under races."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient

from authn.models import AuditEvent, RefreshToken, Session
from authn.services import sessions
from tests.authn.helpers import as_platform_admin, bearer
from tests.factories import UserFactory

REFRESH = "/api/v1/auth/refresh/"


def _refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


@pytest.mark.django_db
def test_chain_then_replay_of_the_first_token_revokes_the_family(user):
    rt0 = sessions.session_start(user=user).refresh
    first = _refresh(rt0)
    assert first.status_code == 200, first.content
    rt1 = first.json()["refresh"]
    second = _refresh(rt1)
    assert second.status_code == 200
    rt2, access2 = second.json()["refresh"], second.json()["access"]
    assert len({rt0, rt1, rt2}) == 3
    assert bearer(APIClient(), access2).get("/api/v1/auth/me/").status_code == 200

    replay = _refresh(rt0)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "refresh_token_reused"
    assert _refresh(rt2).status_code == 401  # the newest token of the family died too
    assert bearer(APIClient(), access2).get("/api/v1/auth/me/").status_code == 401
    as_platform_admin()
    session = Session.objects.get(pk=second.json()["session_id"])
    assert session.revoked_at is not None and session.revoke_reason == "refresh_reuse"
    assert AuditEvent.objects.filter(action="refresh_reuse_detected").count() == 1
    stored = set(RefreshToken.objects.filter(session=session).values_list("token_hash", flat=True))
    assert not {rt0, rt1, rt2} & stored  # only hashes are stored


@pytest.mark.django_db
def test_a_retry_within_the_grace_window_gets_the_same_successor(user):
    rt0 = sessions.session_start(user=user).refresh
    rt1 = _refresh(rt0).json()["refresh"]
    retry = _refresh(rt0)
    assert retry.status_code == 200 and retry.json()["refresh"] == rt1
    rt2 = _refresh(rt1).json()["refresh"]
    # Once the successor itself has been used, the old token is a replay, grace or not.
    assert _refresh(rt0).status_code == 401
    assert _refresh(rt2).status_code == 401


@pytest.mark.django_db
def test_without_grace_any_replay_is_reuse(user, settings):
    settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS = 0
    rt0 = sessions.session_start(user=user).refresh
    rt1 = _refresh(rt0).json()["refresh"]
    assert _refresh(rt0).status_code == 401
    assert _refresh(rt1).status_code == 401


@pytest.mark.django_db
def test_unknown_refresh_token_is_401(user):
    assert _refresh("not-a-token").status_code == 401
    assert _refresh("").status_code == 400


@pytest.mark.slow
def test_twenty_parallel_refreshes_yield_exactly_one_successor(committed, settings):
    user = UserFactory()
    pair = sessions.session_start(user=user)
    barrier = threading.Barrier(20)

    def attempt(_):
        try:
            barrier.wait(timeout=30)
            response = _refresh(pair.refresh)
            return response.status_code, response.json().get("refresh")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))

    assert [status for status, _ in results] == [200] * 20, results
    successors = {token for _, token in results}
    assert len(successors) == 1 and pair.refresh not in successors
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE parent_id IS NOT NULL), count(*)"
            " FROM authn_refreshtoken WHERE session_id = %s",
            [pair.session_id],
        )
        children, total = cursor.fetchone()
        cursor.execute("SELECT revoked_at FROM authn_session WHERE id = %s", [pair.session_id])
        revoked_at = cursor.fetchone()[0]
    assert (children, total) == (1, 2)
    assert revoked_at is None

    # A replay after the grace window revokes the family, and that revocation is committed
    # although the response is an error.
    settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS = 0
    (successor,) = successors
    assert _refresh(successor).status_code == 200
    assert _refresh(successor).status_code == 401
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT revoke_reason FROM authn_session WHERE id = %s", [pair.session_id])
        assert cursor.fetchone()[0] == "refresh_reuse"
