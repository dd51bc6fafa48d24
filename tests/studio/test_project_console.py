"""A project's console pages through Django's test client: the home (URL, keys masked,
snippets, usage of the last 24 h), the request log and its filters, "test as" on the rules
page (the data API's list query under a client's RLS context, rolled back) and app roles."""

import re
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from access.selectors import rule_list
from datastore import services as data_services
from endusers.models import EndUser
from observability import request_log
from observability import services as observability_services
from storage import services as storage_services
from tenants import services
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tests.datastore.conftest import as_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
WHO = "/client/v1/project/"
PLATFORM = TenantContext(platform_admin=True)


def base(project) -> str:
    return f"/studio/o/org-a/p/{project.id}/"


@pytest.fixture
def keys(membership_a, project_a):
    as_member(membership_a)
    made = {
        kind: services.api_key_create(membership=membership_a, project=project_a, kind=kind)[1]
        for kind in ("publishable", "secret")
    }
    set_tenant_context(TenantContext())
    return made


def test_home_shows_the_url_the_keys_masked_snippets_and_usage(
    api_client, client, user, project_a, keys, make_end_user
):
    make_end_user(project_a, "alice@example.com")
    for _ in range(3):
        assert api_client.get(WHO, HTTP_APIKEY=keys["publishable"]).status_code == 200
    client.force_login(user)
    response = client.get(base(project_a))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="project-url">http://testserver<' in body
    assert f"http://testserver/p/{project_a.ref}" in body
    publishable_prefix = keys["publishable"][:21]
    assert publishable_prefix in body  # its prefix, in the snippets too
    assert f'createClient("http://testserver", "{publishable_prefix}' in body
    assert 'curl "http://testserver/rest/v1/todos' in body
    for raw in keys.values():
        assert raw not in body  # stored as hashes: never shown again
    assert keys["secret"][:10] + "••••" in body and keys["secret"][:21] not in body
    usage = dict(re.findall(r'data-usage="(\w+)">([^<]*)<', body))
    assert usage["requests"] == "3"
    assert usage["end_users"] == "1" and usage["end_users_active"] == "0"
    assert usage["invocations"] == "0"
    nav = re.findall(r'<nav class="studio-tabs".*?</nav>', body, re.S)[0]
    for below in ("", "table/", "auth/", "keys/", "rules/", "storage/", "functions/", "logs/"):
        assert f'href="{base(project_a)}{below}"' in nav, below
    assert nav.count('aria-current="page"') == 1


def _fake_request(project, *, status: int, request_id: str, path: str = "/client/v1/x/"):
    client = SimpleNamespace(project_id=project.id, role="anon", end_user_id=None)
    request = SimpleNamespace(
        client=client, method="GET", path=path, resolver_match=None, request_id=request_id
    )
    return request, SimpleNamespace(status_code=status)


@pytest.mark.django_db(databases=["default", "owner"])  # error groups: see observability.models
def test_logs_list_the_projects_requests_filter_them_and_link_an_error(
    api_client, client, user, project_a, project_b, keys
):
    ok = api_client.get(WHO, HTTP_APIKEY=keys["publishable"], HTTP_X_REQUEST_ID="req-ok-1")
    assert ok.status_code == 200
    missing = api_client.get(
        "/client/v1/collections/nothing/records/",
        HTTP_APIKEY=keys["publishable"],
        HTTP_X_REQUEST_ID="req-missing-1",
    )
    assert missing.status_code == 404
    refused = api_client.get(
        WHO,
        HTTP_APIKEY=keys["publishable"],
        HTTP_AUTHORIZATION="Bearer not-a-token",
        HTTP_X_REQUEST_ID="req-refused-1",
    )
    assert refused.status_code == 401  # a valid key, a refused token: the project's log too
    # A 5xx recorded in the error groups (none can be provoked through a client route here).
    request_log.record(*_fake_request(project_a, status=500, request_id="req-boom-1"), 0.01)
    observability_services.error_record(
        exc=RuntimeError("boom"), source="http", request_id="req-boom-1", org_id=project_a.org_id
    )
    # Another project's request is not in this project's log.
    request_log.record(*_fake_request(project_b, status=200, request_id="req-other-1"), 0.01)

    client.force_login(user)
    url = base(project_a) + "logs/"
    body = client.get(url).content.decode()
    for request_id in ("req-ok-1", "req-missing-1", "req-refused-1", "req-boom-1"):
        assert request_id in body
    assert "req-other-1" not in body
    assert re.search(r'<span class="error-group">[^<]*RuntimeError<', body)  # staff: a link

    only_4xx = client.get(url, {"status": "4xx"}).content.decode()
    assert "req-missing-1" in only_4xx and "req-refused-1" in only_4xx
    assert "req-ok-1" not in only_4xx
    assert "req-missing-1" not in client.get(url, {"status": "401"}).content.decode()
    by_id = client.get(url, {"request_id": "req-ok-1"}).content.decode()
    assert "req-ok-1" in by_id and "req-missing-1" not in by_id
    by_route = client.get(url, {"route": "collections"}).content.decode()
    assert "req-missing-1" in by_route and "req-ok-1" not in by_route
    bad = client.get(url, {"status": "teapot", "end_user": "nope"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    linked = client.get(url).content.decode()
    assert re.search(r'href="/studio/observability/errorgroup/\d+/change/"', linked)


def test_test_as_runs_the_list_query_under_the_rules_and_follows_a_rule_change(
    api_client, client, user, membership_a, project_a, todos, make_end_user, keys
):
    alice = make_end_user(project_a, "alice@example.com")
    as_member(membership_a)
    for title in ("milk", "eggs"):
        data_services.record_create(
            membership=membership_a, collection=todos, data={"t": title, "done": False}
        )
    set_tenant_context(TenantContext())
    client.force_login(user)
    url = base(project_a) + f"rules/collection/{todos.id}/"

    def run(**params) -> str:
        response = client.get(url, params)
        assert response.status_code == 200
        return response.content.decode()

    assert 'id="test-count">0<' in run(who="anon")  # no rule: nobody
    data = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert", "update", "delete")
            for role in ("anon", "authenticated")}  # fmt: skip
    data["select-anon-kind"] = "everyone"
    data["select-anon-conditions"] = "done:eq:false"
    assert client.post(url, data).status_code == 303
    opened = run(who="anon")
    listed = api_client.get(
        "/client/v1/collections/todos/records/", HTTP_APIKEY=keys["publishable"]
    )
    assert len(listed.json()["results"]) == 2  # what the API answers anon
    assert 'id="test-count">2<' in opened and "milk" in opened
    assert 'id="test-count">1<' in run(who="anon", query='filter=t:eq:"eggs"')
    assert 'id="test-count">2<' in run(who="anon", query='filter=t:in:["milk","eggs"]')
    assert 'id="test-count">0<' in run(who=str(alice.id))  # authenticated: still nobody
    assert "errorlist" in run(who="anon", query="filter=t:nope:1")
    assert "errorlist" in run(who="00000000-0000-0000-0000-000000000000")
    with tenant_context(PLATFORM):  # read-only: the test wrote nothing
        assert EndUser.objects.filter(project=project_a).count() == 1


def test_app_roles_are_saved_through_the_service_and_bad_names_refused(
    client, user, project_a, make_end_user
):
    alice = make_end_user(project_a, "alice@example.com", app_metadata={"plan": "pro"})
    client.force_login(user)
    url = base(project_a) + f"auth/users/{alice.id}/"
    assert client.post(url, {"action": "roles", "roles": "editor, billing"}).status_code == 303
    with tenant_context(PLATFORM):
        alice.refresh_from_db()
    assert alice.app_metadata == {"plan": "pro", "roles": ["editor", "billing"]}
    assert 'id="app-roles-now">billing, editor<' in client.get(url).content.decode()
    refused = client.post(url, {"action": "roles", "roles": "Not A Role!"})
    assert refused.status_code == 200
    with tenant_context(PLATFORM):
        alice.refresh_from_db()
    assert alice.app_metadata["roles"] == ["editor", "billing"]


def test_channel_rules_use_the_same_form_and_are_listed(client, user, project_a):
    client.force_login(user)
    root = base(project_a) + "rules/"
    opened = client.get(root, {"channel": "room:lobby"})
    assert opened.status_code == 302 and opened["Location"] == root + "channel/room:lobby/"
    bad = client.get(root, {"channel": "no spaces/here"}, follow=True)
    assert "A channel name" in bad.content.decode()
    url = root + "channel/room:lobby/"
    page = client.get(url).content.decode()
    assert page.count("no rule: nobody") == 4  # read and send x 2 roles
    form = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert")
            for role in ("anon", "authenticated")}  # fmt: skip
    form.update({"select-authenticated-kind": "role", "select-authenticated-app_role": "member"})
    assert client.post(url, form).status_code == 303
    with tenant_context(PLATFORM):
        (rule,) = rule_list(project=project_a, channel="room:lobby")
    assert (rule.operation, rule.client_role, rule.app_role) == (
        "select",
        "authenticated",
        "member",
    )
    listed = client.get(root).content.decode()
    assert "room:lobby" in listed and "1 rule allowing access" in listed
    form["insert-anon-kind"] = "owner"  # not a kind a channel rule may have
    refused = client.post(url, form)
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()


def test_test_as_on_a_bucket_lists_what_the_storage_api_shows(
    client, user, membership_a, project_a, make_end_user
):
    as_member(membership_a)
    bucket = storage_services.bucket_create(membership=membership_a, project=project_a, name="pics")
    for key in ("cats/a.txt", "dogs/b.txt"):
        storage_services.object_put(
            membership=membership_a,
            bucket=bucket,
            key=key,
            upload=SimpleUploadedFile(key.split("/")[1], b"hello", content_type="text/plain"),
        )
    set_tenant_context(TenantContext())
    client.force_login(user)
    url = base(project_a) + f"rules/bucket/{bucket.id}/"
    refused = client.get(url, {"who": "anon"}).content.decode()
    assert 'id="test-refused">403' in refused  # no select rule: listing refused
    form = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert", "update", "delete")
            for role in ("anon", "authenticated")}  # fmt: skip
    form["select-anon-kind"] = "everyone"
    assert client.post(url, form).status_code == 303
    listed = client.get(url, {"who": "anon", "query": "cats/"}).content.decode()
    assert 'id="test-count">1<' in listed and "cats/a.txt" in listed
