"""Every /api/v1/ route, walked from the URL conf: a user of another org reaches nothing.

A new org-scoped route is covered automatically; a route outside ``/orgs/<org>/`` must be
listed in NOT_ORG_SCOPED with the reason, and a new URL parameter needs a sample value in
``foreign_values`` — otherwise this test fails.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from compute import services as webhook_services
from endusers.services import accounts as end_user_accounts
from functions.models import Function, FunctionVersion
from observability import alerts as obs_alerts
from observability import services as obs_services
from observability.models import Alert
from tenants import services
from tenants.context import TenantContext, set_tenant_context

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")

# Routes that are not inside one org, and why no org's data can leak through them.
NOT_ORG_SCOPED = {
    "orgs/": "lists and creates the caller's own orgs only (membership-filtered by RLS)",
    "invitations/accept/": "RLS shows a user only invitations sent to their own email",
    "auth/register/": "creates an account; no org data",
    "auth/login/": "exchanges the caller's own credentials",
    "auth/refresh/": "exchanges the caller's own refresh token",
    "auth/logout/": "revokes the caller's own session",
    "auth/logout-all/": "revokes the caller's own sessions",
    "auth/me/": "the caller's own account and memberships (RLS: own memberships)",
    "auth/switch-org/": "membership-checked; a non-member gets 404",
    "auth/password/change/": "the caller's own password",
    "auth/password/reset/": "same answer whether or not the email exists",
    "auth/password/reset/confirm/": "needs the signed token mailed to the account",
    "auth/email/verify/": "the caller's own email",
    "auth/email/verify/confirm/": "needs the signed token mailed to the account",
    "auth/sessions/": "the caller's own sessions (RLS on user_id)",
    "auth/sessions/(?P<session_id>x)/": "the caller's own sessions only; others are 404",
    "admin/redis/metrics": "platform staff only; server-wide Redis figures, no org data",
    "admin/redis/metrics/prometheus": "platform staff only; same figures as text",
}


def api_routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = prefix + _as_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from api_routes(entry, pattern)
        elif isinstance(entry, URLPattern) and pattern.startswith(API_PREFIX):
            yield pattern[len(API_PREFIX) :]


def _as_text(pattern) -> str:
    text = str(pattern)
    text = text.removeprefix("^").removesuffix("$").replace("/?", "/")
    # A regex group (re_path) or a converter (path) becomes a placeholder _fill replaces.
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"(?P<\1>x)", text)
    return re.sub(r"(?<!\?P)<(?:\w+:)?(\w+)>", r"(?P<\1>x)", text)


def _fill(route: str, values: dict) -> str:
    def value(match):
        name = match.group(1)
        if name not in values:
            raise AssertionError(f"route {route!r}: add a foreign sample value for <{name}>")
        return str(values[name])

    return re.sub(r"\(\?P<(\w+)>[^)]*\)", value, route)


@pytest.fixture
def foreign_values(other_org, other_user):
    set_tenant_context(TenantContext(org_id=other_org.id, user_id=other_user.pk))
    membership = other_org.memberships.get(user=other_user)
    project = services.project_create(membership=membership, name="secret-project")
    invitation, _ = services.member_invite(membership=membership, email="guest@example.com")
    channel = obs_services.channel_create(
        membership=membership, name="secret-project", kind="slack", target="http://127.0.0.1:9/h"
    )
    alert_outcome = obs_alerts.raise_event(
        "backup_failed", key="secret-project", org_id=other_org.id
    )
    assert alert_outcome == "fired"
    webhook = webhook_services.webhook_create(
        membership=membership, project=project, url="http://127.0.0.1:9/hook", events=["insert"]
    )
    job = webhook_services.job_create(
        membership=membership,
        project=project,
        name="nightly",
        schedule="0 3 * * *",
        url="http://127.0.0.1:9/job",
    )
    # A function row as a deploy leaves it (the deploy's sandbox check is tests/functions').
    function = Function.objects.create(org=other_org, project=project, name="secret-fn")
    FunctionVersion.objects.create(
        org=other_org, function=function, number=1, source="x", source_hash="0" * 64
    )
    key, _ = services.api_key_create(membership=membership, project=project, kind="secret")
    end_user = end_user_accounts.end_user_create(
        project=project,
        email="secret-user@example.com",
        user_metadata={"marker": "secret-project-user"},
    )
    set_tenant_context(TenantContext(platform_admin=True))
    alert = Alert.objects.get(org=other_org)
    set_tenant_context(TenantContext())
    return {
        "org": other_org.slug,
        "project": project.id,
        "user_id": other_user.pk,
        "invitation": invitation.id,
        "collection": "secret_collection",
        "record": "8b1f2d4e-0000-4000-8000-000000000001",
        "document": "8b1f2d4e00004000800000000000000a",
        "index": "org_id_1_project_id_1_name_1",
        "channel": channel.id,
        "alert": alert.id,
        "webhook": webhook.id,
        "job": job.id,
        "function": "secret-fn",
        "number": 1,
        "bucket": "secret-bucket",
        "key": "secret/file.txt",
        "key_id": key.id,
        "end_user": end_user.id,
    }


def test_route_list_is_not_empty():
    routes = list(api_routes())
    assert any("(?P<org>" in r for r in routes)
    assert len(routes) >= 5


def test_every_route_is_org_scoped_or_explained():
    unexplained = [r for r in api_routes() if "(?P<org>" not in r and r not in NOT_ORG_SCOPED]
    assert unexplained == []


def test_user_of_another_org_reaches_no_org_route(org, user, client_for, foreign_values):
    client = client_for(user)
    routes = [r for r in api_routes() if "(?P<org>" in r]
    for route in routes:
        for by in ("slug", "id"):
            values = dict(foreign_values)
            if by == "id":
                values["org"] = _org_id(foreign_values["org"])
            url = "/" + API_PREFIX + _fill(route, values)
            for method in METHODS:
                response = getattr(client, method)(url, {}, format="json")
                assert response.status_code == 404, (method, url, response.status_code)
                body = response.content.decode()
                assert "secret-project" not in body and str(foreign_values["project"]) not in body


def _org_id(slug):
    from tenants.models import Organization

    set_tenant_context(TenantContext(platform_admin=True))
    org_id = Organization.objects.get(slug=slug).id
    set_tenant_context(TenantContext())
    return org_id


# --- Client routes (/client/v1/...): the project is named by the key, never by the URL ---------

CLIENT_PREFIX = "client/v1/"
# Client routes that take no id of anything: what they act on is the caller's own (the key's
# project, the signed-in end user, a token or email the caller holds); the walk below still
# calls them with another project's values in the body where they take one.
CLIENT_NOT_ID_SCOPED = {
    "project/": "the key's own project",
    "auth/signup/": "creates an end user in the key's project",
    "auth/signin/": "looks the email up in the key's project only",
    "auth/anonymous/": "creates an end user in the key's project",
    "auth/refresh/": "the token's session must be one of the key's project (RLS)",
    "auth/signout/": "the caller's own sessions",
    "auth/user/": "the signed-in end user itself",
    "auth/verify/": "the token is signed for the key's project",
    "auth/recover/": "looks the email up in the key's project only",
    "auth/reset/": "the token is signed for the key's project",
    "auth/admin/users/": "lists the key's project's end users (RLS: project)",
}


# Websocket routes, and where the test that another project's key reaches nothing lives.
WEBSOCKETS = {
    "realtime/v1/websocket": "tests/realtime/test_membership.py (org membership per message); "
    "its Phoenix side as the client socket below",
    "^p/(?P<ref>[a-z]{20})/realtime/v1/websocket\\Z": "Supabase Realtime on the client "
    "socket; identify() checks ref (tests/compat/test_realtime.py: a wrong ref is 4401)",
    "client/v1/realtime/": "tests/access/test_matrix_files_realtime.py (other_key cells)",
    "^p/(?P<ref>[a-z]{20})/client/v1/realtime/\\Z": "the same consumer; identify() checks ref",
    "ws/studio/live/": "platform staff only (the Studio's session)",
}


def _client_routes(resolver, prefix=""):
    for entry in resolver.url_patterns:
        pattern = prefix + _as_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _client_routes(entry, pattern)
        elif isinstance(entry, URLPattern):
            yield pattern


@pytest.fixture
def foreign_client_values(org, user, other_org, other_user):
    """Project B (another org) with a records and a documents collection, a record and a
    document; the caller holds project A's keys (org A)."""
    from datastore import services as data_services
    from tenants.models import Project

    set_tenant_context(TenantContext(org_id=other_org.id, user_id=other_user.pk))
    theirs = other_org.memberships.get(user=other_user)
    project_b = services.project_create(membership=theirs, name="secret-project")
    records = data_services.collection_create(
        membership=theirs, project=project_b, name="secret_collection"
    )
    record = data_services.record_create(membership=theirs, collection=records, data={"s": 1})
    end_user_b = end_user_accounts.end_user_create(project=project_b, email="b-user@example.com")
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    mine = org.memberships.get(user=user)
    project_a = services.project_create(membership=mine, name="mine")
    _, publishable = services.api_key_create(membership=mine, project=project_a, kind="publishable")
    _, secret = services.api_key_create(membership=mine, project=project_a, kind="secret")
    set_tenant_context(TenantContext(platform_admin=True))
    ref_b = Project.objects.get(pk=project_b.id).ref
    set_tenant_context(TenantContext())
    values = {
        "collection": "secret_collection",
        "record": record.pk,
        "document": "ab" * 16,
        "end_user": end_user_b.id,
    }
    return values, {"publishable": publishable, "secret": secret}, ref_b, project_b


def test_another_projects_resources_are_404_on_every_client_route(
    api_client, foreign_client_values, document_store
):
    values, keys, ref_b, project_b = foreign_client_values
    # Files have their own walk below, with a bucket and an object of the other project.
    routes = [r for r in all_client_routes() if "(?P<" in r and not r.startswith("storage/")]
    assert routes
    for route in routes:
        url = "/" + CLIENT_PREFIX + _fill(route, values)
        for kind, key in keys.items():
            for method in METHODS:
                response = getattr(api_client, method)(
                    url, {"data": {"s": 2}}, format="json", HTTP_APIKEY=key
                )
                # The admin routes refuse any key but the secret one before any lookup.
                refused = 403 if route.startswith("auth/admin/") and kind != "secret" else 404
                assert response.status_code in (refused, 405), (method, url, response.status_code)
                assert str(project_b.id) not in response.content.decode()
                assert '"s"' not in response.content.decode()
            # Naming project B in the path with A's key: refused before any lookup.
            response = api_client.get(f"/p/{ref_b}{url}", HTTP_APIKEY=key)
            assert response.status_code == 401, (url, response.status_code)
    set_tenant_context(TenantContext(platform_admin=True))
    from datastore.models import Record

    assert [r.data for r in Record.objects.filter(project_id=project_b.id)] == [{"s": 1}]
    set_tenant_context(TenantContext())


def all_client_routes():
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and _as_text(entry.pattern) == CLIENT_PREFIX:
            yield from _client_routes(entry)


def test_client_routes_are_walked():
    routes = list(all_client_routes())
    assert "auth/signin/" in routes and "auth/admin/users/(?P<end_user>x)/" in routes
    assert "collections/(?P<collection>x)/records/" in routes


def test_every_client_route_takes_another_projects_ids_or_is_explained():
    unexplained = [
        r for r in all_client_routes() if "(?P<" not in r and r not in CLIENT_NOT_ID_SCOPED
    ]
    assert unexplained == []


def test_a_key_of_another_project_reaches_none_of_its_data(api_client, foreign_values, org, user):
    """With this org's project's secret key (the broadest client role), every client route
    called with the other project's ids (and its end user's email in bodies) reaches nothing."""
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    membership = org.memberships.get(user=user)
    own = services.project_create(membership=membership, name="own-project")
    _, raw = services.api_key_create(membership=membership, project=own, kind="secret")
    set_tenant_context(TenantContext())
    values = {**foreign_values, "name": "secret_collection", "id": foreign_values["record"]}
    body = {"email": "secret-user@example.com", "password": "correct horse battery 9"}
    for route in all_client_routes():
        url = "/" + CLIENT_PREFIX + _fill(route, values)
        for method in METHODS:
            response = getattr(api_client, method)(url, body, format="json", HTTP_APIKEY=raw)
            assert response.status_code < 500, (method, url, response.status_code)
            text = response.content.decode()
            # The same email may sign up in this project; the other's user never shows.
            assert "secret-project-user" not in text, (method, url)
            assert str(foreign_values["end_user"]) not in text, (method, url)
            if "(?P<" in route:
                assert response.status_code in (404, 405), (method, url, response.status_code)


@pytest.fixture
def foreign_files(other_org, other_user):
    """Another org's project with a bucket and an object every caller of it may touch."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from access import services as access_services
    from storage import services as storage_services

    set_tenant_context(TenantContext(org_id=other_org.id, user_id=other_user.pk))
    membership = other_org.memberships.select_related("org", "user").get(user=other_user)
    project = services.project_create(membership=membership, name="secret-project")
    bucket = storage_services.bucket_create(
        membership=membership, project=project, name="secret-bucket"
    )
    storage_services.object_put(
        membership=membership, bucket=bucket, key="secret/file.txt",
        upload=SimpleUploadedFile("file.txt", b"secret bytes", content_type="text/plain"),
    )  # fmt: skip
    for operation in ("select", "insert", "update", "delete"):
        access_services.rule_set(
            membership=membership, project=project, resource_type="bucket",
            resource_id=bucket.id, operation=operation, client_role="anon", kind="everyone",
        )  # fmt: skip
    set_tenant_context(TenantContext())
    return {"bucket": "secret-bucket", "key": "secret/file.txt", "project": project}


def test_every_websocket_route_is_explained():
    from platform_site.routing import websocket_urlpatterns

    assert sorted(str(p.pattern) for p in websocket_urlpatterns) == sorted(WEBSOCKETS)


def test_another_projects_key_reaches_no_client_route(org, user, foreign_files):
    from rest_framework.test import APIClient

    from storage.models import StoredObject

    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    membership = org.memberships.select_related("org", "user").get(user=user)
    own = services.project_create(membership=membership, name="own-project")
    keys = [
        services.api_key_create(membership=membership, project=own, kind=kind)[1]
        for kind in ("publishable", "secret")
    ]
    set_tenant_context(TenantContext())
    client = APIClient()
    routes = [r for r in all_client_routes() if r.startswith("storage/")]
    assert routes
    for route in routes:
        url = "/" + CLIENT_PREFIX + _fill(route, foreign_files)
        for key in keys:
            for method in METHODS:
                response = getattr(client, method)(url, {}, format="json", HTTP_APIKEY=key)
                assert response.status_code in (404, 405), (method, url, response.status_code)
                assert b"secret" not in response.content
            # Naming the other project by its ref: the key is not one of that project's.
            ref_url = f"/p/{foreign_files['project'].ref}{url}"
            response = client.get(ref_url, HTTP_APIKEY=key)
            assert response.status_code == 401, (ref_url, response.status_code)
    set_tenant_context(TenantContext(platform_admin=True))
    assert list(StoredObject.objects.values_list("key", flat=True)) == ["secret/file.txt"]
    set_tenant_context(TenantContext())
