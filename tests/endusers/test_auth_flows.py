"""End users' sign-up, sign-in, anonymous sign-in, their profile, email confirmation and
password recovery, through the client routes with the project's publishable key."""

import pytest
from django.core import mail

from authn.models import AuditEvent
from endusers.models import EndUser
from tenants.context import TenantContext, set_tenant_context
from tests.endusers.conftest import PASSWORD, error_code, mailed_token

pytestmark = pytest.mark.django_db


def _rows(project, **filters):
    set_tenant_context(TenantContext(platform_admin=True))
    rows = list(EndUser.objects.filter(project=project, **filters))
    set_tenant_context(TenantContext())
    return rows


def test_open_signup_returns_a_session_and_mails_a_link(app, project_a, auth_settings):
    auth_settings(site_url="https://app.example")
    response = app.signup("Ada@Example.com", user_metadata={"name": "Ada"})
    assert response.status_code == 201, response.content
    body = response.json()
    session = body["session"]
    assert session["token_type"] == "bearer" and session["expires_in"] > 0
    assert session["expires_at"] > 0 and session["refresh_token"]
    user = session["user"]
    assert user["email"] == "ada@example.com" and user["user_metadata"] == {"name": "Ada"}
    assert user["is_anonymous"] is False and user["email_confirmed_at"] is None
    assert user["app_metadata"] == {} and user["last_sign_in_at"] is not None
    assert body["user"]["id"] == user["id"]
    assert "password" not in str(body)
    # The link points at the project's own app.
    assert "https://app.example/verify-email#token=" in mail.outbox[-1].body
    # The token works on the project's routes.
    me = app.call("get", "user/", token=session["access_token"])
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    (row,) = _rows(project_a)
    assert row.password.startswith("argon2$argon2id$")


def test_confirm_mode_gives_a_session_only_after_the_email_is_confirmed(app, auth_settings):
    auth_settings(signup="confirm")
    response = app.signup("bo@example.com")
    assert response.status_code == 201 and response.json()["session"] is None
    refused = app.signin("bo@example.com")
    assert refused.status_code == 403 and error_code(refused) == "email_not_confirmed"
    # A wrong password still gets the uniform answer, which says nothing of confirmation.
    wrong = app.signin("bo@example.com", "not the password 1")
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_credentials"
    token = mailed_token("bo@example.com", "/verify-email")
    verified = app.post("verify/", {"token": token})
    assert verified.status_code == 200, verified.content
    assert verified.json()["user"]["email_confirmed_at"] is not None
    assert app.signin("bo@example.com").status_code == 200


def test_closed_signup_is_403(app, auth_settings):
    auth_settings(signup="closed")
    response = app.signup("cy@example.com")
    assert response.status_code == 403 and error_code(response) == "signup_disabled"


def test_email_is_unique_per_project_only(app, other_app, project_a, project_b):
    assert app.signup("dup@example.com").status_code == 201
    again = app.signup("DUP@example.com")
    assert again.status_code == 400 and "email" in again.json()["error"]["details"]
    assert other_app.signup("dup@example.com").status_code == 201
    assert len(_rows(project_a, email="dup@example.com")) == 1
    assert len(_rows(project_b, email="dup@example.com")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "e@example.com"},
        {"email": "e@example.com", "password": "short"},
        {"email": "e@example.com", "password": "12345678901"},
        {"email": "e@example.com", "password": PASSWORD, "user_metadata": "x"},
        {"email": "e@example.com", "password": PASSWORD, "user_metadata": {"x": "y" * 20000}},
        {"email": "e@example.com", "password": PASSWORD, "app_metadata": {"roles": ["admin"]}},
        {"email": "e@example.com", "password": PASSWORD, "project": "other"},
        {"email": "e@example.com", "password": PASSWORD, "id": "x"},
        {"email": ["e@example.com"], "password": PASSWORD},
    ],
)
def test_bad_signup_input_is_400_in_the_one_shape(app, project_a, body):
    response = app.post("signup/", body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert _rows(project_a) == []


def test_a_list_body_is_400(app):
    response = app.http.post("/client/v1/auth/signin/", [1, 2], format="json", HTTP_APIKEY=app.key)
    assert response.status_code == 400


def test_signin_failures_look_the_same_and_are_audited(app, project_a):
    app.signup("eve@example.com")
    unknown = app.signin("nobody@example.com")
    wrong = app.signin("eve@example.com", "wrong password 123")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    ok = app.signin("EVE@example.com")
    assert ok.status_code == 200 and ok.json()["user"]["email"] == "eve@example.com"
    set_tenant_context(TenantContext(platform_admin=True))
    actions = list(
        AuditEvent.objects.filter(org_id=project_a.org_id)
        .order_by("created_at")
        .values_list("action", flat=True)
    )
    set_tenant_context(TenantContext())
    assert actions.count("end_user_signin_fail") == 2
    assert "end_user_signin_ok" in actions and "end_user_signup" in actions


def test_anonymous_sign_in_and_upgrade(app, project_a, auth_settings):
    refused = app.post("anonymous/")
    assert refused.status_code == 403 and error_code(refused) == "anonymous_disabled"
    auth_settings(anonymous_sign_in=True)
    response = app.post("anonymous/")
    assert response.status_code == 201, response.content
    session = response.json()
    assert session["user"]["is_anonymous"] is True and session["user"]["email"] == ""
    app.access = session["access_token"]
    half = app.call("patch", "user/", {"email": "anon@example.com"})
    assert half.status_code == 400
    upgraded = app.call("patch", "user/", {"email": "anon@example.com", "password": PASSWORD})
    assert upgraded.status_code == 200, upgraded.content
    assert upgraded.json()["is_anonymous"] is False
    assert upgraded.json()["id"] == session["user"]["id"]
    assert app.signin("anon@example.com").status_code == 200
    (row,) = _rows(project_a)
    assert row.is_anonymous is False and row.email == "anon@example.com"


def test_user_metadata_is_the_users_app_metadata_is_not(app, project_a):
    app.signup("fay@example.com", user_metadata={"a": 1})
    app.signin("fay@example.com")
    merged = app.call("patch", "user/", {"user_metadata": {"b": 2}})
    assert merged.status_code == 200 and merged.json()["user_metadata"] == {"a": 1, "b": 2}
    for body in (
        {"app_metadata": {"roles": ["admin"]}},
        {"roles": ["admin"]},
        {"end_user_id": "00000000-0000-0000-0000-000000000000"},
        {"project": "x"},
        {"is_anonymous": True},
        {"email_confirmed_at": "2020-01-01T00:00:00Z"},
        {"banned_until": None},
    ):
        response = app.call("patch", "user/", body)
        assert response.status_code == 400, (body, response.content)
    (row,) = _rows(project_a)
    assert row.app_metadata == {} and row.email_confirmed_at is None


def test_user_routes_need_an_end_user(app):
    for method in ("get", "patch"):
        response = app.call(method, "user/", {})
        assert response.status_code == 401
    assert app.post("signout/", {}).status_code == 401


def test_email_change_must_be_confirmed_again(app, auth_settings):
    app.signup("gil@example.com")
    token = mailed_token("gil@example.com", "/verify-email")
    assert app.post("verify/", {"token": token}).status_code == 200
    app.signin("gil@example.com")
    changed = app.call("patch", "user/", {"email": "gil2@example.com"})
    assert changed.status_code == 200 and changed.json()["email_confirmed_at"] is None
    token = mailed_token("gil2@example.com", "/verify-email")
    assert app.post("verify/", {"token": token}).json()["user"]["email"] == "gil2@example.com"
    # Another user's address is taken.
    app.signup("hal@example.com")
    taken = app.call("patch", "user/", {"email": "HAL@example.com"})
    assert taken.status_code == 400 and "email" in taken.json()["error"]["details"]


def test_verification_tokens_are_per_project(app, other_app, keys):
    app.signup("ida@example.com")
    token = mailed_token("ida@example.com", "/verify-email")
    other_app.signup("ida@example.com")
    assert other_app.post("verify/", {"token": token}).status_code == 400
    for bad in ("", "garbage", token + "x"):
        assert app.post("verify/", {"token": bad}).status_code == 400


def test_recover_and_reset(app, auth_settings):
    auth_settings(site_url="https://app.example/")
    app.signup("jo@example.com")
    first = app.signin("jo@example.com").json()
    app.access = None  # the app is signed out; the mailed link opens in a fresh one
    mail.outbox.clear()
    unknown = app.post("recover/", {"email": "nobody@example.com"})
    known = app.post("recover/", {"email": "JO@example.com"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["jo@example.com"]
    assert "https://app.example/reset-password#token=" in mail.outbox[0].body
    token = mailed_token("jo@example.com", "/reset-password")
    weak = app.post("reset/", {"token": token, "password": "short"})
    assert weak.status_code == 400
    new_password = "another horse battery 7"
    assert app.post("reset/", {"token": token, "password": new_password}).status_code == 204
    # Once only; every session revoked; the new password works, the old does not.
    assert app.post("reset/", {"token": token, "password": PASSWORD + "x"}).status_code == 400
    assert app.call("get", "user/", token=first["access_token"]).status_code == 401
    assert app.post("refresh/", {"refresh_token": first["refresh_token"]}).status_code == 401
    assert app.signin("jo@example.com").status_code == 401
    assert app.signin("jo@example.com", new_password).status_code == 200
    assert app.post("reset/", {"token": "garbage", "password": new_password}).status_code == 400


def test_password_change_revokes_other_sessions(app):
    app.signup("kim@example.com")
    other = app.signin("kim@example.com").json()
    app.signin("kim@example.com")
    current = app.access
    changed = app.call("patch", "user/", {"password": "brand new phrase 42"})
    assert changed.status_code == 200
    assert app.call("get", "user/", token=current).status_code == 200
    assert app.call("get", "user/", token=other["access_token"]).status_code == 401
