"""What the project decides about its end users and keys: the secret key's user management
(``/client/v1/auth/admin/users/``), app_metadata roles in tokens and in the tenant context,
and the developers' routes for keys, end users and sign-up settings with their permissions."""

import jwt
import pytest
from django.test import RequestFactory

from endusers.identity import identify
from tenants.context import TenantContext, set_tenant_context
from tests.endusers.conftest import PASSWORD, App, error_code

pytestmark = pytest.mark.django_db
ADMIN = "/client/v1/auth/admin/users/"


def _claims(access: str) -> dict:
    return jwt.decode(access, options={"verify_signature": False})


def test_only_the_secret_key_manages_users(app, server, signed_up_id):
    assert app.call("get", ADMIN).status_code == 403
    app.signin("una@example.com")
    for method in ("get", "post"):
        assert app.call(method, ADMIN, {}).status_code == 403
    assert app.call("get", f"{ADMIN}{signed_up_id}/").status_code == 403
    assert app.call("patch", f"{ADMIN}{signed_up_id}/", {"app_metadata": {}}).status_code == 403
    assert app.call("delete", f"{ADMIN}{signed_up_id}/").status_code == 403
    listed = server.call("get", ADMIN)
    assert listed.status_code == 200 and [u["id"] for u in listed.json()] == [signed_up_id]


@pytest.fixture
def signed_up_id(app):
    return app.signup("una@example.com").json()["user"]["id"]


def test_app_metadata_roles_reach_the_token_and_the_tenant_context(app, server, keys):
    created = server.call(
        "post",
        ADMIN,
        {"email": "vic@example.com", "password": PASSWORD, "app_metadata": {"roles": ["editor"]}},
    )
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    body = app.signin("vic@example.com").json()
    assert _claims(body["access_token"])["app_metadata"] == {"roles": ["editor"]}
    request = RequestFactory().get(
        "/client/v1/project/",
        HTTP_APIKEY=keys["pk"],
        HTTP_AUTHORIZATION=f"Bearer {body['access_token']}",
    )
    context = identify(request.META).tenant_context()
    assert context.end_user_roles == ("editor",) and str(context.end_user_id) == user_id
    assert context.client_role == "authenticated"
    # The project changes the roles; the next refreshed token carries them.
    changed = server.call(
        "patch", f"{ADMIN}{user_id}/", {"app_metadata": {"roles": ["admin", "editor"]}}
    )
    assert changed.status_code == 200
    refreshed = app.post("refresh/", {"refresh_token": body["refresh_token"]}, token="").json()
    assert _claims(refreshed["access_token"])["app_metadata"]["roles"] == ["admin", "editor"]


@pytest.mark.parametrize(
    "body",
    [
        {"app_metadata": {"roles": "admin"}},
        {"app_metadata": {"roles": [1]}},
        {"app_metadata": {"roles": ["x" * 65]}},
        {"app_metadata": []},
        {"banned_until": "tomorrow"},
        {"email_confirmed": "maybe"},
        {"project": "x"},
    ],
)
def test_bad_admin_updates_are_400(server, signed_up_id, body):
    response = server.call("patch", f"{ADMIN}{signed_up_id}/", body)
    assert response.status_code == 400, response.content


def test_secret_key_get_patch_delete(server, app, signed_up_id, keys):
    url = f"{ADMIN}{signed_up_id}/"
    assert server.call("get", url).json()["email"] == "una@example.com"
    confirmed = server.call("patch", url, {"email_confirmed": True, "user_metadata": {"k": 1}})
    assert confirmed.json()["email_confirmed_at"] is not None
    assert confirmed.json()["user_metadata"] == {"k": 1}
    session = app.signin("una@example.com").json()
    assert server.call("delete", url).status_code == 204
    assert server.call("get", url).status_code == 404
    assert app.call("get", "user/", token=session["access_token"]).status_code == 401
    # Another project's secret key does not see this project's users.
    other = App(keys["other_sk"])
    assert other.call("get", f"{ADMIN}{session['user']['id']}/").status_code == 404


def test_other_projects_end_users_are_not_found(server, other_app):
    other_id = other_app.signup("wes@example.com").json()["user"]["id"]
    assert server.call("get", f"{ADMIN}{other_id}/").status_code == 404
    assert server.call("patch", f"{ADMIN}{other_id}/", {"app_metadata": {}}).status_code == 404
    assert server.call("delete", f"{ADMIN}{other_id}/").status_code == 404


# --- Developers' routes ------------------------------------------------------------------------


def _base(org, project) -> str:
    return f"/api/v1/orgs/{org.slug}/projects/{project.id}"


@pytest.fixture
def dev_clients(client_for, user, add_member):
    set_tenant_context(TenantContext())
    return {
        "owner": client_for(user),
        "admin": client_for(add_member("admin").user),
        "developer": client_for(add_member("developer").user),
        "viewer": client_for(add_member("viewer").user),
    }


def test_keys_api_permissions_and_one_time_key(dev_clients, org, project_a):
    url = _base(org, project_a) + "/keys/"
    for role in ("developer", "viewer"):
        assert dev_clients[role].get(url).status_code == 403
        response = dev_clients[role].post(url, {"kind": "secret"}, format="json")
        assert response.status_code == 403
    created = dev_clients["admin"].post(url, {"kind": "publishable", "name": "web"}, format="json")
    assert created.status_code == 201, created.content
    key = created.json()
    assert key["key"].startswith("sb_publishable_") and key["key"].startswith(key["prefix"])
    listed = dev_clients["owner"].get(url).json()
    assert [k["id"] for k in listed] == [key["id"]]
    assert set(listed[0]) == {
        "id", "kind", "name", "prefix", "created_at", "last_used_at", "revoked_at",
    }  # fmt: skip
    assert key["key"] not in str(listed)
    for bad in (
        {"kind": "master"},
        {},
        {"kind": "secret", "name": "x" * 121},
        {"kind": "secret", "x": 1},
    ):
        assert dev_clients["owner"].post(url, bad, format="json").status_code == 400


def test_revoke_and_rotate_take_effect_at_once(dev_clients, org, project_a):
    owner = dev_clients["owner"]
    url = _base(org, project_a) + "/keys/"
    first = owner.post(url, {"kind": "secret"}, format="json").json()
    app = App(first["key"])
    assert app.call("get", "/client/v1/project/").status_code == 200
    rotated = owner.post(f"{url}{first['id']}/rotate/", format="json")
    assert rotated.status_code == 201
    new = rotated.json()
    assert app.call("get", "/client/v1/project/").status_code == 401
    assert App(new["key"]).call("get", "/client/v1/project/").status_code == 200
    assert owner.post(f"{url}{first['id']}/rotate/", format="json").status_code == 400
    assert dev_clients["developer"].delete(f"{url}{new['id']}/").status_code == 403
    assert owner.delete(f"{url}{new['id']}/").status_code == 204
    assert App(new["key"]).call("get", "/client/v1/project/").status_code == 401
    revoked = {k["id"]: k["revoked_at"] for k in owner.get(url).json()}
    assert revoked[first["id"]] and revoked[new["id"]]
    missing = "00000000-0000-4000-8000-000000000000"
    assert owner.delete(f"{url}{missing}/").status_code == 404


def test_end_users_routes_and_permissions(dev_clients, org, project_a, app):
    user_id = app.signup("xia@example.com").json()["user"]["id"]
    session = app.signin("xia@example.com").json()
    base = _base(org, project_a) + "/end-users/"
    viewer = dev_clients["viewer"]
    listed = viewer.get(base, {"search": "XIA"})
    assert listed.status_code == 200 and [u["id"] for u in listed.json()] == [user_id]
    assert viewer.get(base, {"search": "nobody"}).json() == []
    assert viewer.get(f"{base}{user_id}/").json()["email"] == "xia@example.com"
    assert len(viewer.get(f"{base}{user_id}/sessions/").json()) == 2
    assert viewer.patch(f"{base}{user_id}/", {"app_metadata": {}}, format="json").status_code == 403
    assert viewer.delete(f"{base}{user_id}/sessions/").status_code == 403
    assert viewer.delete(f"{base}{user_id}/").status_code == 403
    developer = dev_clients["developer"]
    patched = developer.patch(
        f"{base}{user_id}/", {"app_metadata": {"roles": ["staff"]}}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["app_metadata"] == {"roles": ["staff"]}
    # user_metadata is the end user's own.
    bad = developer.patch(f"{base}{user_id}/", {"user_metadata": {"x": 1}}, format="json")
    assert bad.status_code == 400
    assert developer.delete(f"{base}{user_id}/sessions/").status_code == 204
    assert app.call("get", "user/", token=session["access_token"]).status_code == 401
    assert viewer.get(f"{base}{user_id}/sessions/").json() == []
    banned = developer.patch(
        f"{base}{user_id}/", {"banned_until": "2999-01-01T00:00:00Z"}, format="json"
    )
    assert banned.status_code == 200 and banned.json()["banned_until"].startswith("2999")
    app.access = None
    assert error_code(app.signin("xia@example.com")) == "user_banned"
    assert developer.delete(f"{base}{user_id}/").status_code == 204
    assert viewer.get(f"{base}{user_id}/").status_code == 404


def test_auth_settings_routes(dev_clients, org, project_a, app):
    url = _base(org, project_a) + "/auth-settings/"
    assert dev_clients["viewer"].get(url).status_code == 403
    current = dev_clients["developer"].get(url)
    assert current.status_code == 200
    assert current.json() == {
        "signup": "open", "anonymous_sign_in": False, "site_url": "", "updated_at": None,
    }  # fmt: skip
    for bad in (
        {"signup": "maybe"},
        {"site_url": "not a url"},
        {"anonymous_sign_in": "x"},
        {"x": 1},
    ):
        response = dev_clients["developer"].patch(url, bad, format="json")
        assert response.status_code == 400, (bad, response.content)
    assert dev_clients["viewer"].patch(url, {"signup": "closed"}, format="json").status_code == 403
    changed = dev_clients["developer"].patch(
        url, {"signup": "closed", "anonymous_sign_in": True}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["signup"] == "closed"
    assert error_code(app.signup("yan@example.com")) == "signup_disabled"
    assert app.post("anonymous/").status_code == 201
