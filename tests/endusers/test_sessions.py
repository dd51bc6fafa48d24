"""End users' sessions: refresh rotation with reuse detection and grace (authn's one
implementation), sign-out scopes, bans, and revocations that hold with Redis unreachable."""

import socket
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from authn.models import AuditEvent, PendingCacheInvalidation, Session
from cache import sessions as session_cache
from cache.breaker import redis_breaker
from endusers.models import EndUser
from endusers.services import accounts
from tenants.context import TenantContext, set_tenant_context
from tests.endusers.conftest import error_code

pytestmark = pytest.mark.django_db


def _session_rows(**filters):
    set_tenant_context(TenantContext(platform_admin=True))
    rows = list(Session.objects.filter(**filters))
    set_tenant_context(TenantContext())
    return rows


@pytest.fixture
def signed_in(app):
    app.signup("sam@example.com")
    body = app.signin("sam@example.com").json()
    return body


def test_refresh_rotates_and_the_new_token_carries_the_same_session(app, signed_in):
    rotated = app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}, token="")
    assert rotated.status_code == 200, rotated.content
    body = rotated.json()
    assert body["refresh_token"] != signed_in["refresh_token"]
    assert body["user"]["id"] == signed_in["user"]["id"]
    assert app.call("get", "user/", token=body["access_token"]).status_code == 200
    again = app.post("refresh/", {"refresh_token": body["refresh_token"]}, token="")
    assert again.status_code == 200


def test_retry_within_grace_gets_the_same_successor(app, signed_in):
    first = app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}, token="").json()
    retry = app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}, token="")
    assert retry.status_code == 200
    assert retry.json()["refresh_token"] == first["refresh_token"]


def test_reuse_outside_grace_revokes_the_whole_family(app, signed_in, settings, project_a):
    settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS = 0
    first = app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}, token="").json()
    replay = app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}, token="")
    assert replay.status_code == 401 and error_code(replay) == "refresh_token_reused"
    # The successor dies with the family, and so do the access tokens of the session.
    successor = app.post("refresh/", {"refresh_token": first["refresh_token"]}, token="")
    assert successor.status_code == 401
    assert app.call("get", "user/", token=first["access_token"]).status_code == 401
    assert app.call("get", "user/", token=signed_in["access_token"]).status_code == 401
    set_tenant_context(TenantContext(platform_admin=True))
    assert AuditEvent.objects.filter(
        org_id=project_a.org_id, action="end_user_refresh_reuse"
    ).exists()
    set_tenant_context(TenantContext())


def test_refresh_tokens_stay_in_their_project_and_kind(app, other_app, signed_in, client_for, user):
    # Another project's key: the session is not found there (and is not revoked by trying).
    refused = other_app.post("refresh/", {"refresh_token": signed_in["refresh_token"]})
    assert refused.status_code == 401 and error_code(refused) == "invalid_refresh_token"
    assert app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}).status_code == 200
    # A developer's refresh token on the client route, and an end user's on the developers'.
    developer = client_for(user)
    assert app.post("refresh/", {"refresh_token": developer.refresh_token}).status_code == 401
    response = developer.post(
        "/api/v1/auth/refresh/", {"refresh": signed_in["refresh_token"]}, format="json"
    )
    assert response.status_code == 401
    assert app.post("refresh/", {"refresh_token": ""}).status_code == 400
    assert app.post("refresh/", {}).status_code == 400


@pytest.mark.parametrize(
    ("scope", "alive"),
    [("local", {"b", "c"}), ("others", {"a"}), ("global", set())],
)
def test_signout_scopes(app, scope, alive):
    app.signup("tia@example.com")
    tokens = {name: app.signin("tia@example.com").json() for name in "abc"}
    response = app.post("signout/", {"scope": scope}, token=tokens["a"]["access_token"])
    assert response.status_code == 204
    still = {
        name
        for name, body in tokens.items()
        if app.call("get", "user/", token=body["access_token"]).status_code == 200
    }
    assert still == alive


def test_signout_scope_must_be_known(app, signed_in):
    response = app.post("signout/", {"scope": "everyone"}, token=signed_in["access_token"])
    assert response.status_code == 400


def _ban(project, end_user_id, until):
    set_tenant_context(TenantContext(platform_admin=True))
    end_user = EndUser.objects.get(pk=end_user_id)
    set_tenant_context(TenantContext())
    accounts.end_user_admin_update(project=project, end_user=end_user, banned_until=until)


def test_ban_takes_effect_on_the_next_request(app, signed_in, project_a):
    access = signed_in["access_token"]
    assert app.call("get", "user/", token=access).status_code == 200
    _ban(project_a, signed_in["user"]["id"], timezone.now() + timedelta(days=1))
    assert app.call("get", "user/", token=access).status_code == 401
    assert (
        app.post("refresh/", {"refresh_token": signed_in["refresh_token"]}, token="").status_code
        == 401
    )
    app.access = None
    refused = app.signin("sam@example.com")
    assert refused.status_code == 403 and error_code(refused) == "user_banned"
    # Unbanned (a past date): the end user signs in again.
    _ban(project_a, signed_in["user"]["id"], timezone.now() - timedelta(seconds=1))
    assert app.signin("sam@example.com").status_code == 200


@pytest.fixture
def redis_down(settings):
    """The session cache pointed at a port where nothing listens (a real connection failure)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caches = dict(settings.CACHES)
    caches["dead"] = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    settings.CACHES = caches
    settings.LATENCY_SAMPLE_RATE = 0.0

    def down():
        settings.AUTHN_SESSION_CACHE_ALIAS = "dead"

    def up():
        settings.AUTHN_SESSION_CACHE_ALIAS = "default"
        redis_breaker.close()

    yield down, up
    settings.AUTHN_SESSION_CACHE_ALIAS = "default"
    redis_breaker.close()
    session_cache.reconciled()


def test_a_revoked_session_is_refused_with_redis_down_and_after(
    app, signed_in, project_a, redis_down
):
    down, up = redis_down
    access = signed_in["access_token"]
    assert app.call("get", "user/", token=access).status_code == 200  # cached as live
    down()
    assert app.call("get", "user/", token=access).status_code == 200  # PostgreSQL answers
    _ban(project_a, signed_in["user"]["id"], timezone.now() + timedelta(days=1))
    sid = jwt.decode(access, options={"verify_signature": False})["session_id"]
    (session,) = _session_rows(pk=sid)
    set_tenant_context(TenantContext(platform_admin=True))
    assert PendingCacheInvalidation.objects.filter(session_id=session.id).exists()
    set_tenant_context(TenantContext())
    assert app.call("get", "user/", token=access).status_code == 401
    # Redis back with its stale "live" copy: the pending tombstone is written first.
    up()
    assert app.call("get", "user/", token=access).status_code == 401
    cached = session_cache.get(session.id)
    assert cached is not None and not cached.is_live_for(signed_in["user"]["id"])


def test_hot_paths_stay_few_statements(app, signed_in, django_assert_max_num_queries):
    """A signed-in request (session cached) and a refresh: the statements counted include the
    savepoints and ``set_config`` calls of the contexts (key lookup, service role)."""
    access = signed_in["access_token"]
    assert app.call("get", "user/", token=access).status_code == 200  # warms the cache
    with django_assert_max_num_queries(11):
        assert app.call("get", "user/", token=access).status_code == 200
    with django_assert_max_num_queries(23):
        body = {"refresh_token": signed_in["refresh_token"]}
        assert app.post("refresh/", body, token="").status_code == 200
