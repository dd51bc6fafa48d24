"""``/functions/v1/<name>`` refusals that need no worker (the full path, with supabase-js and a
real supervisor, is tests/compat/test_functions.py), and the per-invocation token's rules."""

import pytest

from functions import services, tokens
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.context import TenantContext, tenant_context


@pytest.fixture
def keys(org, user):
    with tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role="owner")):
        membership = tenant_selectors.member_get(org=org, user_id=user.pk)
        project = tenant_services.project_create(membership=membership, name="fn-app")
        _, publishable = tenant_services.api_key_create(
            membership=membership, project=project, kind="publishable"
        )
    return project, publishable


def test_without_a_key_the_route_is_a_401(client, committed):
    response = client.post("/functions/v1/hello-world", data=b"{}", content_type="text/plain")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_required"


@pytest.mark.parametrize("prefix", ["", "ref"])
def test_an_unknown_function_is_a_404_in_both_url_forms(client, keys, prefix):
    project, publishable = keys
    path = ("/p/" + project.ref if prefix else "") + "/functions/v1/no-such-function"
    response = client.post(path, data=b"{}", content_type="application/json",
                           HTTP_APIKEY=publishable)  # fmt: skip
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_invocation_token_is_the_callers_identity_until_revoked(client, keys):
    project, publishable = keys
    token = tokens.mint(project=project, caller=services.Caller(kind="anon"), timeout_seconds=5)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    # An anon caller's token: the function-less route answers 404 (past the identity).
    assert client.get("/functions/v1/nothing-here", **headers).status_code == 404
    tokens.revoke(token)
    refused = client.get("/functions/v1/nothing-here", **headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    forged = client.get("/functions/v1/nothing-here", HTTP_AUTHORIZATION="Bearer fninv_forged")
    assert forged.status_code == 401


def test_a_token_names_its_callers_role():
    assert tokens.role_of(services.Caller(kind="end_user", end_user_id="u")) == "authenticated"
    assert tokens.role_of(services.Caller(kind="anon", key_id="k")) == "anon"
    assert tokens.role_of(services.Caller(kind="service", key_id="k")) == "service_role"
    assert tokens.role_of(services.Caller(kind="developer", user_id=1)) == "service_role"
