"""Project API keys and end users' tokens on the client routes, kept apart from developers'."""

import socket

import pytest

from cache.breaker import redis_breaker
from endusers.services.sessions import end_user_session_start
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.datastore.conftest import as_member
from tests.tokens import access_token

pytestmark = pytest.mark.django_db
WHO = "/client/v1/project/"


@pytest.fixture
def keys(membership_a, project_a, membership_b, project_b):
    as_member(membership_a)
    _, publishable = services.api_key_create(
        membership=membership_a, project=project_a, kind="publishable"
    )
    secret_key, secret = services.api_key_create(
        membership=membership_a, project=project_a, kind="secret", name="server"
    )
    as_member(membership_b)
    _, other = services.api_key_create(
        membership=membership_b, project=project_b, kind="publishable"
    )
    set_tenant_context(TenantContext())
    return {"pk": publishable, "sk": secret, "sk_row": secret_key, "other": other}


def test_keys_name_the_project_and_grant_their_role(api_client, keys, project_a):
    assert keys["pk"].startswith("sb_publishable_") and keys["sk"].startswith("sb_secret_")
    body = api_client.get(WHO, HTTP_APIKEY=keys["pk"]).json()
    assert body == {"ref": project_a.ref, "name": "app-a", "role": "anon", "end_user_id": None}
    as_bearer = api_client.get(WHO, HTTP_AUTHORIZATION=f"Bearer {keys['pk']}").json()
    assert as_bearer["role"] == "anon"
    assert api_client.get(WHO, HTTP_APIKEY=keys["sk"]).json()["role"] == "service_role"
    by_ref = api_client.get(f"/p/{project_a.ref}{WHO}", HTTP_APIKEY=keys["pk"])
    assert by_ref.status_code == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "api_key_required"),
        ({"HTTP_APIKEY": "sb_publishable_nope"}, "invalid_api_key"),
        ({"HTTP_APIKEY": "x" * 5000}, "invalid_api_key"),
    ],
)
def test_missing_or_unknown_keys_are_401(api_client, keys, headers, code):
    response = api_client.get(WHO, **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_secret_key_from_a_browser_is_refused_with_a_hint(api_client, keys):
    response = api_client.get(WHO, HTTP_APIKEY=keys["sk"], HTTP_ORIGIN="https://app.example")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "secret_key_in_browser"
    assert "publishable key" in error["message"]


def test_a_key_never_works_on_another_project(api_client, keys, project_b):
    response = api_client.get(f"/p/{project_b.ref}{WHO}", HTTP_APIKEY=keys["pk"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    # The ref form serves client routes only.
    response = api_client.get(f"/p/{project_b.ref}/api/v1/orgs/", HTTP_APIKEY=keys["other"])
    assert response.status_code == 404


def test_revoked_key_is_refused_at_once(api_client, keys, membership_a):
    assert api_client.get(WHO, HTTP_APIKEY=keys["sk"]).status_code == 200
    as_member(membership_a)
    services.api_key_revoke(membership=membership_a, key=keys["sk_row"])
    set_tenant_context(TenantContext())
    assert api_client.get(WHO, HTTP_APIKEY=keys["sk"]).status_code == 401


def test_end_user_tokens_and_developer_tokens_stay_on_their_side(
    api_client, keys, project_a, project_b, make_end_user, user
):
    alice = make_end_user(project_a, "alice@example.com")
    tokens = end_user_session_start(project=project_a, end_user=alice)
    auth = {"HTTP_APIKEY": keys["pk"], "HTTP_AUTHORIZATION": f"Bearer {tokens.access_token}"}
    body = api_client.get(WHO, **auth).json()
    assert body["role"] == "authenticated" and body["end_user_id"] == str(alice.id)
    # The end user's token is not a developer's ...
    response = api_client.get("/api/v1/orgs/", HTTP_AUTHORIZATION=auth["HTTP_AUTHORIZATION"])
    assert response.status_code == 401
    # ... nor a token of another project ...
    response = api_client.get(
        WHO, HTTP_APIKEY=keys["other"], HTTP_AUTHORIZATION=auth["HTTP_AUTHORIZATION"]
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    # ... and a developer's token is refused on client routes.
    developer = access_token(user)
    response = api_client.get(WHO, HTTP_APIKEY=keys["pk"], HTTP_AUTHORIZATION=f"Bearer {developer}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_revoked_key_is_refused_with_redis_down(api_client, keys, membership_a, settings):
    """Keys are read in PostgreSQL on every request: no cache can keep a revoked one alive."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    settings.CACHES = {**settings.CACHES, "default": dead, "dead": dead}
    settings.AUTHN_SESSION_CACHE_ALIAS = "dead"
    settings.LATENCY_SAMPLE_RATE = 0.0
    try:
        assert api_client.get(WHO, HTTP_APIKEY=keys["sk"]).status_code == 200
        as_member(membership_a)
        services.api_key_revoke(membership=membership_a, key=keys["sk_row"])
        set_tenant_context(TenantContext())
        response = api_client.get(WHO, HTTP_APIKEY=keys["sk"])
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    finally:
        redis_breaker.close()
