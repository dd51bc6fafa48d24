"""GoTrue's routes (``/auth/v1/``, compat.auth) over the platform's end users.

The wire-level scenarios run the real supabase-js (``js/auth.test.mjs``) through both URL
forms; the rest talks to the views through Django's test client: bad input, the wrong kinds
of key or token, reuse of a refresh token, the mailed links, the admin routes, every error in
GoTrue's shape.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from endusers.models import EndUser
from endusers.services import accounts
from tenants import selectors as tenant_selectors
from tenants import services
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tenants.models import Project
from tests.compat.conftest import URL_FORMS
from tests.datastore.conftest import as_member
from tests.endusers import conftest as endusers_fixtures
from tests.tokens import access_token

AUTH = "/auth/v1/"
SHAPE = {"code", "error_code", "msg"}
VERSION = "X-Supabase-Api-Version"
PASSWORD = endusers_fixtures.PASSWORD
# The end users' fixtures: two orgs' projects and their keys, the auth settings of project A.
keys = endusers_fixtures.keys
auth_settings = endusers_fixtures.auth_settings
membership_a, project_a = endusers_fixtures.membership_a, endusers_fixtures.project_a
membership_b, project_b = endusers_fixtures.membership_b, endusers_fixtures.project_b


@pytest.fixture(autouse=True)
def _sync_mail(settings):
    settings.AUTHN_EMAIL_ASYNC = False


class GoTrue:
    """A client app speaking GoTrue with one key (and an end user's token once signed in)."""

    def __init__(self, client, key: str, prefix: str = ""):
        self.http = client
        self.key = key
        self.prefix = prefix

    def call(self, method, path, body=None, token=None, raw=None, **headers):
        headers = {"HTTP_APIKEY": self.key, **headers}
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        url = self.prefix + AUTH + path
        if raw is not None:
            return getattr(self.http, method)(url, raw, content_type="application/json", **headers)
        if body is None and method in ("get", "delete"):
            return getattr(self.http, method)(url, **headers)
        return getattr(self.http, method)(
            url, body or {}, content_type="application/json", **headers
        )

    def signup(self, email, password=PASSWORD, **extra):
        return self.call("post", "signup", {"email": email, "password": password, **extra})

    def signin(self, email, password=PASSWORD):
        return self.call(
            "post", "token?grant_type=password", {"email": email, "password": password}
        )


@pytest.fixture
def app(client, keys):
    return GoTrue(client, keys["pk"])


@pytest.fixture
def server(client, keys):
    return GoTrue(client, keys["sk"])


def gotrue_error(response, status: int, code: str) -> dict:
    """The response is GoTrue's error: its status, its shape, its code, its version header."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= SHAPE and body["code"] == status, body
    assert body["error_code"] == code, body
    assert isinstance(body["msg"], str) and body["msg"]
    assert response[VERSION] == "2024-01-01"
    return body


def mailed_token(to: str) -> str:
    for message in reversed(mail.outbox):
        if to in message.to:
            return re.search(r"#token=(\S+)", message.body).group(1)
    raise AssertionError(f"no mail to {to}")


def test_signup_signin_user_and_refresh_are_gotrue_bodies(app):
    response = app.signup("Ada@Example.com", data={"name": "Ada"}, gotrue_meta_security={})
    assert response.status_code == 200, response.content
    assert response[VERSION] == "2024-01-01"
    session = response.json()
    assert session["token_type"] == "bearer" and session["expires_in"] > 0
    assert session["expires_at"] > 0 and session["refresh_token"]
    user = session["user"]
    assert user["aud"] == user["role"] == "authenticated"
    assert user["email"] == "ada@example.com" and user["user_metadata"] == {"name": "Ada"}
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["identities"][0]["provider"] == "email" and user["is_anonymous"] is False
    assert user["phone"] == "" and user["confirmed_at"] is None
    signed_in = app.signin("ada@example.com")
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]
    me = app.call("get", "user", token=token)
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    refreshed = app.call(
        "post",
        "token?grant_type=refresh_token",
        {"refresh_token": signed_in.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200 and refreshed.json()["user"]["id"] == user["id"]
    assert refreshed.json()["refresh_token"] != signed_in.json()["refresh_token"]


@pytest.mark.parametrize(
    "path, raw, status, code",
    [
        ("signup", "{not json", 400, "bad_json"),
        ("token?grant_type=password", "[1, 2", 400, "bad_json"),
        ("signup", '"a string"', 400, "validation_failed"),
        ("token?grant_type=password", "{}", 400, "validation_failed"),
        ("token?grant_type=password", '{"password": "x"}', 400, "validation_failed"),
        ("token?grant_type=refresh_token", "{}", 400, "validation_failed"),
        ("token?grant_type=magic", "{}", 400, "validation_failed"),
        ("token", "{}", 400, "validation_failed"),
        ("signup", '{"email": "not-an-email", "password": "x"}', 400, "validation_failed"),
        ("signup", '{"email": "a@example.com"}', 422, "validation_failed"),
        ("signup", '{"password": "a long enough one 1"}', 400, "validation_failed"),
        ("signup", '{"phone": "+15550100", "password": "p"}', 422, "phone_provider_disabled"),
        ("signup", '{"email": "b@example.com", "password": "p", "data": 3}', 400, None),
        ("recover", "{}", 400, "validation_failed"),
        ("verify", '{"type": "signup"}', 400, "validation_failed"),
        ("verify", '{"type": "sms", "token": "1"}', 400, "validation_failed"),
        ("verify", '{"type": "signup", "token_hash": "garbage"}', 403, "otp_expired"),
        ("verify", '{"type": "recovery", "token_hash": "garbage"}', 403, "otp_expired"),
    ],
)
def test_bad_input_is_a_gotrue_4xx(app, path, raw, status, code):
    response = app.call("post", path, raw=raw)
    gotrue_error(response, status, code or "validation_failed")


def test_unknown_path_wrong_method_and_server_error_are_gotrue_shaped(app, monkeypatch, client):
    gotrue_error(app.call("get", "nope"), 404, "not_found")
    gotrue_error(app.call("get", "signup"), 405, "method_not_allowed")
    gotrue_error(app.call("delete", "token"), 405, "method_not_allowed")

    def boom(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "end_user_signin", boom)
    client.raise_request_exception = False
    gotrue_error(app.signin("x@example.com"), 500, "unexpected_failure")


def test_wrong_password_duplicate_and_weak_password(app):
    assert app.signup("bo@example.com").status_code == 200
    gotrue_error(app.signin("bo@example.com", "not the password 1"), 400, "invalid_credentials")
    gotrue_error(app.signin("nobody@example.com"), 400, "invalid_credentials")
    gotrue_error(app.signup("BO@example.com"), 422, "user_already_exists")
    weak = gotrue_error(app.signup("cy@example.com", password="short"), 422, "weak_password")
    assert weak["weak_password"]["reasons"]


def test_wrong_kinds_of_key_and_token(client, app, keys, user, membership_a, project_a):
    # No key at all; a developer's access token where the key goes; a made-up key.
    gotrue_error(client.get(AUTH + "user"), 401, "no_authorization")
    developer = access_token(user)
    gotrue_error(client.get(AUTH + "user", HTTP_APIKEY=developer), 401, "invalid_api_key")
    gotrue_error(GoTrue(client, "sb_publishable_nope").call("get", "user"), 401, "invalid_api_key")
    # A developer's token as the end user's: not a token of this project.
    gotrue_error(app.call("get", "user", token=developer), 403, "bad_jwt")
    # The key alone on a signed-in route.
    gotrue_error(app.call("get", "user"), 401, "no_authorization")
    gotrue_error(app.call("post", "logout"), 401, "no_authorization")
    # Another project's key under this project's path.
    other = GoTrue(client, keys["other"], prefix=f"/p/{project_a.ref}")
    gotrue_error(other.call("get", "settings"), 401, "invalid_api_key")
    # Another project's end user token with this project's key.
    theirs = GoTrue(client, keys["other"]).signup("dee@example.com").json()["access_token"]
    gotrue_error(app.call("get", "user", token=theirs), 403, "bad_jwt")
    # A revoked key.
    as_member(membership_a)
    services.api_key_revoke(membership=membership_a, key=keys["sk_row"])
    set_tenant_context(TenantContext())
    gotrue_error(GoTrue(client, keys["sk"]).call("get", "settings"), 401, "invalid_api_key")


def test_both_url_forms_serve_the_same_project(client, app, keys, membership_a, project_a):
    prefixed = GoTrue(client, keys["pk"], prefix=f"/p/{project_a.ref}")
    assert prefixed.signup("eve@example.com").status_code == 200
    assert app.signin("eve@example.com").status_code == 200


def test_refresh_token_reuse_revokes_the_session(app, settings):
    settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS = 0
    first = app.signup("fay@example.com").json()
    grant = "token?grant_type=refresh_token"
    second = app.call("post", grant, {"refresh_token": first["refresh_token"]}).json()
    reused = app.call("post", grant, {"refresh_token": first["refresh_token"]})
    gotrue_error(reused, 400, "refresh_token_already_used")
    # The whole session is gone: its newer refresh token and its access token too.
    later = app.call("post", grant, {"refresh_token": second["refresh_token"]})
    gotrue_error(later, 400, "refresh_token_not_found")
    gotrue_error(app.call("get", "user", token=second["access_token"]), 403, "session_not_found")
    unknown = app.call("post", grant, {"refresh_token": "not-a-token"})
    gotrue_error(unknown, 400, "refresh_token_not_found")


@pytest.mark.parametrize("scope", ["local", "global", "others"])
def test_logout_scopes(app, scope):
    app.signup("gus@example.com")
    one, two = (app.signin("gus@example.com").json()["access_token"] for _ in range(2))
    response = app.call("post", f"logout?scope={scope}", token=one)
    assert response.status_code == 204 and response[VERSION] == "2024-01-01"
    one_alive = app.call("get", "user", token=one).status_code == 200
    two_alive = app.call("get", "user", token=two).status_code == 200
    assert (one_alive, two_alive) == {
        "local": (False, True),
        "global": (False, False),
        "others": (True, False),
    }[scope]
    ended = one if not one_alive else two
    gotrue_error(app.call("get", "user", token=ended), 403, "session_not_found")
    live = app.signin("gus@example.com").json()["access_token"]
    gotrue_error(app.call("post", "logout?scope=all", token=live), 400, "validation_failed")


def test_user_update(app):
    token = app.signup("hal@example.com", data={"name": "Hal"}).json()["access_token"]
    response = app.call("put", "user", {"data": {"theme": "dark"}}, token=token)
    assert response.status_code == 200
    assert response.json()["user_metadata"] == {"name": "Hal", "theme": "dark"}
    gotrue_error(app.call("put", "user", {"data": []}, token=token), 400, "validation_failed")
    gotrue_error(app.call("put", "user", {"password": "short"}, token=token), 422, "weak_password")
    app.signup("ivy@example.com")
    taken = app.call("put", "user", {"email": "ivy@example.com"}, token=token)
    gotrue_error(taken, 422, "email_exists")


def test_confirmation_required_then_verify(app, auth_settings):
    auth_settings(signup="confirm")
    response = app.signup("jo@example.com")
    assert response.status_code == 200
    body = response.json()
    assert "access_token" not in body and body["email"] == "jo@example.com"
    assert body["email_confirmed_at"] is None
    gotrue_error(app.signin("jo@example.com"), 400, "email_not_confirmed")
    token = mailed_token("jo@example.com")
    # auth-js's verifyOtp({email, token, type}) form; the link's token_hash works the same.
    verified = app.call(
        "post", "verify", {"type": "email", "email": "jo@example.com", "token": token}
    )
    assert verified.status_code == 200, verified.content
    assert verified.json()["access_token"] and verified.json()["user"]["email_confirmed_at"]
    assert app.signin("jo@example.com").status_code == 200


def test_recover_is_the_same_answer_and_its_link_signs_in_once(app):
    app.signup("kim@example.com")
    old = app.signin("kim@example.com").json()["access_token"]
    mail.outbox.clear()
    known = app.call("post", "recover", {"email": "KIM@example.com"})
    unknown = app.call("post", "recover", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {}
    assert len(mail.outbox) == 1
    token = mailed_token("kim@example.com")
    session = app.call("post", "verify", {"type": "recovery", "token_hash": token})
    assert session.status_code == 200, session.content
    again = app.call("post", "verify", {"type": "recovery", "token_hash": token})
    gotrue_error(again, 403, "otp_expired")
    new_password = "another horse battery 7"
    access = session.json()["access_token"]
    assert app.call("put", "user", {"password": new_password}, token=access).status_code == 200
    assert app.call("get", "user", token=old).status_code == 403  # other sessions revoked
    gotrue_error(app.signin("kim@example.com"), 400, "invalid_credentials")
    assert app.signin("kim@example.com", new_password).status_code == 200


def test_signup_and_anonymous_settings(app, auth_settings):
    gotrue_error(app.call("post", "signup", {}), 422, "anonymous_provider_disabled")
    assert app.call("get", "settings").json()["external"]["anonymous_users"] is False
    auth_settings(anonymous_sign_in=True, signup="closed")
    anonymous = app.call("post", "signup", {"data": {"n": 1}})
    assert anonymous.status_code == 200
    user = anonymous.json()["user"]
    assert user["is_anonymous"] is True and user["user_metadata"] == {"n": 1}
    assert user["identities"] == [] and user["email"] == ""
    gotrue_error(app.signup("lee@example.com"), 422, "signup_disabled")
    settings_body = app.call("get", "settings").json()
    assert settings_body["disable_signup"] is True
    assert settings_body["external"]["anonymous_users"] is True


def test_rate_limit_is_gotrue_429(app, settings):
    settings.CLIENT_AUTH_RATE_LIMITS = {
        **settings.CLIENT_AUTH_RATE_LIMITS,
        "recover": {"ip": "2/3600"},
    }
    for n in range(2):
        assert app.call("post", "recover", {"email": f"m{n}@example.com"}).status_code == 200
    refused = app.call("post", "recover", {"email": "m9@example.com"})
    gotrue_error(refused, 429, "over_request_rate_limit")
    assert int(refused["Retry-After"]) > 0


def test_admin_routes_need_the_secret_key(app, server, keys, client, project_b):
    gotrue_error(app.call("get", "admin/users"), 403, "not_admin")
    signed_in = app.signup("nia@example.com").json()["access_token"]
    gotrue_error(app.call("get", "admin/users", token=signed_in), 403, "not_admin")
    created = server.call(
        "post",
        "admin/users",
        {"email": "ola@example.com", "password": PASSWORD, "email_confirm": True},
    )
    assert created.status_code == 200, created.content
    user = created.json()
    assert user["email_confirmed_at"] is not None
    listed = server.call("get", "admin/users?page=1&per_page=1")
    assert listed.status_code == 200 and listed["X-Total-Count"] == "2"
    assert len(listed.json()["users"]) == 1 and 'rel="next"' in listed["Link"]
    gotrue_error(server.call("get", "admin/users?page=x"), 400, "validation_failed")
    path = f"admin/users/{user['id']}"
    assert server.call("get", path).json()["id"] == user["id"]
    updated = server.call(
        "put", path, {"app_metadata": {"roles": ["editor"]}, "ban_duration": "24h"}
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["app_metadata"]["roles"] == ["editor"]
    assert updated.json()["banned_until"]
    gotrue_error(app.signin("ola@example.com"), 400, "user_banned")
    gotrue_error(server.call("put", path, {"password": "x"}), 400, "validation_failed")
    gotrue_error(server.call("put", path, {"ban_duration": "soon"}), 400, "validation_failed")
    # Another project's end user does not exist here.
    theirs = GoTrue(client, keys["other"]).signup("pat@example.com").json()["user"]["id"]
    gotrue_error(server.call("get", f"admin/users/{theirs}"), 404, "user_not_found")
    gotrue_error(server.call("delete", f"admin/users/{theirs}"), 404, "user_not_found")
    assert server.call("delete", path).status_code == 200
    gotrue_error(server.call("get", path), 404, "user_not_found")
    gotrue_error(server.call("get", "admin/users/not-a-uuid"), 404, "not_found")


# --- supabase-js itself -----------------------------------------------------------------


def _allow_anonymous(ref: str) -> None:
    """The demo project lets visitors in anonymously (its owner's setting)."""
    owner = get_user_model().objects.get(username="owner@demo.example")
    with tenant_context(TenantContext(user_id=owner.pk)):
        membership = tenant_selectors.membership_for(user=owner, org_ref="demo")
    with tenant_context(
        TenantContext(org_id=membership.org_id, user_id=owner.pk, role=membership.role)
    ):
        project = Project.objects.get(ref=ref)
        accounts.auth_settings_update(
            membership=membership, project=project, anonymous_sign_in=True
        )


@pytest.mark.slow
@pytest.mark.parametrize("form", URL_FORMS)
def test_supabase_js_auth(demo, form):
    _allow_anonymous(demo.ref)
    output = demo.node("auth.test.mjs", form)
    assert re.search(r"\bpass 7\b", output), output[-3000:]  # every scenario ran


def test_end_user_rows_are_the_only_store(app, project_a):
    """A GoTrue sign-up is a platform end user: one row, no second store."""
    app.signup("quinn@example.com")
    set_tenant_context(TenantContext(platform_admin=True))
    assert EndUser.objects.filter(project=project_a, email="quinn@example.com").count() == 1
    set_tenant_context(TenantContext())


# Today's counts (tests/test_query_counts.py explains what a test's savepoints add): the key
# in its own block, then the request's transaction with the client context. GET /user: the end
# user. The refresh grant: the token row, the session with its end user, the rotation and its
# audit row, in the service-role block.
BUDGET_USER = 11
BUDGET_REFRESH = 23


def test_user_and_refresh_cost_a_fixed_number_of_statements(app, django_assert_max_num_queries):
    session = app.signup("rae@example.com").json()
    assert app.call("get", "user", token=session["access_token"]).status_code == 200
    with django_assert_max_num_queries(BUDGET_USER):
        assert app.call("get", "user", token=session["access_token"]).status_code == 200
    grant = {"refresh_token": session["refresh_token"]}
    with django_assert_max_num_queries(BUDGET_REFRESH):
        response = app.call("post", "token?grant_type=refresh_token", grant)
    assert response.status_code == 200
