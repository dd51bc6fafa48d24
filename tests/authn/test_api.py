"""The auth endpoints end to end, through the real middleware, PostgreSQL and Redis."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from authn.models import AccountState, AuditEvent, Session
from tests.authn.helpers import PASSWORD, as_platform_admin, bearer, login

pytestmark = pytest.mark.django_db
User = get_user_model()


def _register(client, email="new@example.com", password="a-long enough passphrase"):  # noqa: S107
    return client.post(
        "/api/v1/auth/register/", {"email": email, "password": password}, format="json"
    )


def test_register_returns_tokens_and_mails_a_verification_link(api_client):
    response = _register(api_client, "New@Example.com")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"access", "refresh", "session_id", "expires_in"}
    user = User.objects.get(email="new@example.com")
    me = bearer(APIClient(), body["access"]).get("/api/v1/auth/me/")
    assert me.status_code == 200 and me.json()["email"] == "new@example.com"
    assert me.json()["email_verified"] is False
    assert len(mail.outbox) == 1 and "#token=" in mail.outbox[0].body
    token = mail.outbox[0].body.split("#token=")[1].split()[0]
    confirm = api_client.post("/api/v1/auth/email/verify/confirm/", {"token": token}, format="json")
    assert confirm.status_code == 204
    assert AccountState.objects.get(user=user).email_verified_at is not None
    bad = api_client.post("/api/v1/auth/email/verify/confirm/", {"token": "x" + token})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_register_refuses_duplicate_and_weak_passwords(api_client, user):
    assert _register(api_client, user.email).status_code == 400
    for weak, reason in (
        ("short1", "too short"),
        ("password123", "too common"),
        ("12345678901", "entirely numeric"),
    ):
        response = _register(api_client, "weak@example.com", weak)
        assert response.status_code == 400, weak
        details = response.json()["error"]["details"]
        assert list(details) == ["password"], details
        assert any(reason in message for message in details["password"]), details
    assert not User.objects.filter(email="weak@example.com").exists()


def test_login_returns_access_refresh_and_session(api_client, user):
    response = login(api_client, user.email)
    assert response.status_code == 200, response.content
    body = response.json()
    token = AccessToken(body["access"])
    assert token["sub"] == str(user.pk) and token["sid"] == body["session_id"]
    assert "org" in token.payload and "role" in token.payload
    assert 5 * 60 <= token["exp"] - token["iat"] <= 15 * 60
    assert token["iss"] == "platform" and token["aud"] == "platform-api"
    as_platform_admin()
    session = Session.objects.get(pk=body["session_id"])
    assert session.user == user and session.revoked_at is None
    assert session.ip == "127.0.0.1"


def test_login_failure_looks_the_same_for_unknown_email_and_wrong_password(api_client, user):
    wrong = login(api_client, user.email, "not the password")
    unknown = login(api_client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json()["error"].items() if k != "request_id"}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert set(wrong.headers) - {"X-Request-ID"} == set(unknown.headers) - {"X-Request-ID"}
    assert AuditEvent.objects.filter(action="login_failed").count() == 0  # RLS: no actor
    as_platform_admin()
    events = AuditEvent.objects.filter(action="login_failed")
    assert sorted(e.metadata["known_account"] for e in events) == [False, True]


def test_me_patch_and_sessions(client_for, user):
    client = client_for(user)
    response = client.patch("/api/v1/auth/me/", {"first_name": "Ada"}, format="json")
    assert response.status_code == 200 and response.json()["first_name"] == "Ada"
    other = client_for(user)
    sessions = client.get("/api/v1/auth/sessions/").json()
    assert {s["id"] for s in sessions} == {client.session_id, other.session_id}
    assert [s["current"] for s in sessions if s["id"] == client.session_id] == [True]
    revoke = client.delete(f"/api/v1/auth/sessions/{other.session_id}/")
    assert revoke.status_code == 204
    assert other.get("/api/v1/auth/me/").status_code == 401
    assert client.get("/api/v1/auth/me/").status_code == 200


def test_cannot_revoke_another_users_session(client_for, user, other_user):
    mine, theirs = client_for(user), client_for(other_user)
    response = mine.delete(f"/api/v1/auth/sessions/{theirs.session_id}/")
    assert response.status_code == 404
    assert theirs.get("/api/v1/auth/me/").status_code == 200


def test_logout_and_logout_all(client_for, user):
    first, second, third = client_for(user), client_for(user), client_for(user)
    assert first.post("/api/v1/auth/logout/").status_code == 204
    assert first.get("/api/v1/auth/me/").status_code == 401
    assert second.get("/api/v1/auth/me/").status_code == 200
    assert second.post("/api/v1/auth/logout-all/").status_code == 204
    assert second.get("/api/v1/auth/me/").status_code == 401
    assert third.get("/api/v1/auth/me/").status_code == 401
    refresh = APIClient().post("/api/v1/auth/refresh/", {"refresh": third.refresh_token})
    assert refresh.status_code == 401


def test_change_password_revokes_other_sessions(client_for, user, api_client):
    current, other = client_for(user), client_for(user)
    response = current.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        format="json",
    )
    assert response.status_code == 204, response.content
    assert current.get("/api/v1/auth/me/").status_code == 200
    assert other.get("/api/v1/auth/me/").status_code == 401
    assert login(api_client, user.email).status_code == 401
    assert login(api_client, user.email, "a brand new passphrase").status_code == 200
    wrong = current.post(
        "/api/v1/auth/password/change/",
        {"current_password": "nope", "new_password": "another new passphrase"},
        format="json",
    )
    assert wrong.status_code == 400


def test_password_reset_flow(client_for, user, api_client):
    session = client_for(user)
    unknown = api_client.post("/api/v1/auth/password/reset/", {"email": "no@example.com"})
    known = api_client.post("/api/v1/auth/password/reset/", {"email": user.email.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    fragment = re.search(r"#uid=([^&]+)&token=(\S+)", mail.outbox[0].body)
    uid, token = fragment.groups()
    bad = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": uid, "token": token + "x", "new_password": "reset passphrase here"},
    )
    assert bad.status_code == 400
    good = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": uid, "token": token, "new_password": "reset passphrase here"},
    )
    assert good.status_code == 204, good.content
    assert session.get("/api/v1/auth/me/").status_code == 401  # every session revoked
    assert login(api_client, user.email, "reset passphrase here").status_code == 200
    replay = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": uid, "token": token, "new_password": "yet another passphrase"},
    )
    assert replay.status_code == 400  # the token died with the old password


def test_switch_org_checks_membership(client_for, user, org, other_org):
    client = client_for(user)
    switched = client.post("/api/v1/auth/switch-org/", {"org": org.slug}, format="json")
    assert switched.status_code == 200, switched.content
    token = AccessToken(switched.json()["access"])
    assert token["org"] == str(org.id) and token["role"] == "owner"
    assert token["sid"] == client.session_id
    denied = client.post("/api/v1/auth/switch-org/", {"org": other_org.slug}, format="json")
    assert denied.status_code == 404
    # The active org survives a refresh: the next access token carries it again.
    refreshed = APIClient().post("/api/v1/auth/refresh/", {"refresh": client.refresh_token})
    assert AccessToken(refreshed.json()["access"])["org"] == str(org.id)
    me = bearer(APIClient(), refreshed.json()["access"]).get("/api/v1/auth/me/").json()
    assert me["active_org"] == str(org.id) and me["memberships"][0]["org_slug"] == "org-a"


def test_deactivated_user_is_locked_out_at_once(client_for, user, db):
    from authn.services import accounts

    client = client_for(user)
    admin = User.objects.create_superuser("root@example.com", "root@example.com", "x" * 12)
    accounts.user_deactivate(actor=admin, user=user)
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_auth_endpoints_ignore_bad_bearer_on_public_routes(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert login(api_client, user.email).status_code == 200


def test_me_with_a_studio_session_cookie(client, user):
    """A cookie session (the Studio's) carries no token: the answer has no active org."""
    client.force_login(user)
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == user.email and body["active_org"] is None and body["role"] is None
