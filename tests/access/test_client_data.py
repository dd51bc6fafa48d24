"""Client routes of records and documents beyond the matrix: bodies, lists, events, refusals
by PostgreSQL itself, and the developers' rules API. Documents: mongomock (the suite's one
fake, no MongoDB server runs here) unless MONGODB_URL is set."""

import pytest
from django.db import transaction

from datastore.signals import record_changed
from endusers.services.sessions import end_user_session_start
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db
TODOS = "/client/v1/collections/todos/records/"
NOTES = "/client/v1/documents/notes/"


@pytest.fixture
def app(membership_a, project_a, todos, set_rule, make_end_user, make_collection, document_store):
    as_member(membership_a)
    _, publishable = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="publishable"
    )
    set_tenant_context(TenantContext())
    notes = make_collection(membership_a, project_a, "notes", store="documents")
    for collection in (todos, notes):
        for op in ("select", "insert", "update", "delete"):
            set_rule(project_a, collection, op, "authenticated", "owner")
    alice = make_end_user(project_a, "alice@example.com")
    token = end_user_session_start(project=project_a, end_user=alice).access_token
    return {
        "headers": {"HTTP_APIKEY": publishable, "HTTP_AUTHORIZATION": f"Bearer {token}"},
        "anon": {"HTTP_APIKEY": publishable},
        "alice": alice,
        "notes": notes,
    }


@pytest.mark.parametrize("url", [TODOS, NOTES])
@pytest.mark.parametrize(
    "extra",
    [
        {"end_user_id": "8b1f2d4e-0000-4000-8000-000000000001"},
        {"org_id": "x"},
        {"project_id": "x"},
        {"owner": 1},
        {"roles": ["admin"]},
    ],
)
def test_a_body_is_data_only(api_client, app, url, extra):
    response = api_client.post(url, {"data": {"t": 1}, **extra}, format="json", **app["headers"])
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["details"]) == set(extra)
    listed = api_client.get(url, **app["headers"]).json()["results"]
    assert listed == []


@pytest.mark.parametrize("url", [TODOS, NOTES])
def test_the_server_names_the_end_user(api_client, app, url):
    response = api_client.post(
        url, {"data": {"end_user": "forged"}}, format="json", **app["headers"]
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["end_user_id"] == str(app["alice"].id) and "owner_id" not in body
    forged = api_client.post(url, {"data": {"end_user_id": "x"}}, format="json", **app["headers"])
    if url == NOTES:  # a document's top-level end_user_id is the server's field
        assert forged.status_code == 400


def test_lists_filter_order_page_count_and_select_fields(api_client, app):
    for n in range(7):
        api_client.post(
            TODOS, {"data": {"n": n, "odd": n % 2 == 1}}, format="json", **app["headers"]
        )
    query = {"filter": "odd:eq:false", "order": "-n", "limit": 2, "count": "true", "fields": "n"}
    first = api_client.get(TODOS, query, **app["headers"]).json()
    assert [r["data"] for r in first["results"]] == [{"n": 6}, {"n": 4}]
    assert first["count"] == 4 and first["next_cursor"]
    second = api_client.get(
        TODOS, {**query, "cursor": first["next_cursor"]}, **app["headers"]
    ).json()
    assert [r["data"] for r in second["results"]] == [{"n": 2}, {"n": 0}]
    bad = api_client.get(TODOS, {"filter": "n:nope:1"}, **app["headers"])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_client_writes_announce_the_end_user(api_client, app, django_capture_on_commit_callbacks):
    events = []

    def receiver(sender, **payload):
        events.append(payload)

    record_changed.connect(receiver, dispatch_uid="test-client-events")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            created = api_client.post(TODOS, {"data": {"t": 1}}, format="json", **app["headers"])
        with django_capture_on_commit_callbacks(execute=True):
            api_client.delete(f"{TODOS}{created.json()['id']}/", **app["headers"])
    finally:
        record_changed.disconnect(dispatch_uid="test-client-events")
    assert [e["op"] for e in events] == ["create", "delete"]
    for event in events:
        assert event["end_user_id"] == app["alice"].id and event["data"] == {"t": 1}
        assert event["collection_id"] is not None


def test_an_update_the_policy_check_refuses_is_403(api_client, app, project_a, todos, set_rule):
    # Alice may change her drafts only, and a change must leave them drafts.
    set_rule(project_a, todos, "update", "authenticated", "owner", conditions=["draft:eq:true"])
    created = api_client.post(TODOS, {"data": {"draft": True}}, format="json", **app["headers"])
    url = f"{TODOS}{created.json()['id']}/"
    response = api_client.patch(url, {"data": {"draft": False}}, format="json", **app["headers"])
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"
    assert api_client.get(url, **app["headers"]).json()["data"] == {"draft": True}
    ok = api_client.patch(url, {"data": {"title": "t"}}, format="json", **app["headers"])
    assert ok.status_code == 200 and ok.json()["version"] == 2


def test_a_collection_without_rules_is_closed(
    api_client, app, membership_a, project_a, make_collection
):
    make_collection(membership_a, project_a, "closed")
    make_collection(membership_a, project_a, "closed_docs", store="documents")
    for url in ("/client/v1/collections/closed/records/", "/client/v1/documents/closed_docs/"):
        for headers in (app["headers"], app["anon"]):
            assert api_client.get(url, **headers).json()["results"] == []
            response = api_client.post(url, {"data": {"t": 1}}, format="json", **headers)
            assert response.status_code == 403, response.content
    missing = api_client.get("/client/v1/collections/nope/records/", **app["headers"])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


# --- the developers' rules API ----------------------------------------------------------------
def test_rules_api_sets_by_name_and_shows_the_policy(org, user, client_for, project_a, app):
    client = client_for(user)
    url = f"/api/v1/orgs/{org.slug}/projects/{project_a.id}/rules/"
    body = {
        "resource_type": "collection",
        "collection": "todos",
        "operation": "select",
        "client_role": "authenticated",
        "kind": "owner",
        "conditions": ["published:eq:true"],
    }
    response = client.put(url, body, format="json")
    assert response.status_code == 200, response.content
    rule = response.json()
    assert rule["kind"] == "owner" and rule["conditions"] == ["published:eq:true"]
    assert "end_user_id = auth user" in rule["policy"]
    assert (
        'data satisfies strict (exists($ ? (@."published" == $v0))) with {"v0": true}'
        in (rule["policy"])
    )
    listed = client.get(url, {"resource_type": "collection", "resource_id": rule["resource_id"]})
    by_op = {r["operation"]: r for r in listed.json()}
    assert set(by_op) == {"select", "insert", "update", "delete"}  # replaced, not added
    assert by_op["select"]["id"] == rule["id"] and by_op["select"]["kind"] == "owner"
    # The client sees the new rule at once: only published rows of its own.
    api_client = client.__class__()
    api_client.post(TODOS, {"data": {"published": False}}, format="json", **app["headers"])
    assert api_client.get(TODOS, **app["headers"]).json()["results"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"collection": "nope"}, "collection"),
        ({"collection": None, "resource_id": None}, "resource_id"),
        ({"kind": "owner", "client_role": "anon"}, "kind"),
        ({"conditions": ["n:bogus:1"]}, "conditions"),
        ({"kind": "role"}, "app_role"),
        ({"bucket": "files"}, "resource_id"),
    ],
)
def test_rules_api_bad_input_is_400(org, user, client_for, project_a, app, change, field):
    body = {
        "resource_type": "collection",
        "collection": "todos",
        "operation": "select",
        "client_role": "authenticated",
        "kind": "everyone",
        **change,
    }
    body = {k: v for k, v in body.items() if v is not None}
    url = f"/api/v1/orgs/{org.slug}/projects/{project_a.id}/rules/"
    response = client_for(user).put(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]


def test_rules_api_needs_the_permission(org, add_member, client_for, project_a, app):
    viewer = add_member("viewer")
    client = client_for(viewer.user)
    url = f"/api/v1/orgs/{org.slug}/projects/{project_a.id}/rules/"
    assert client.get(url).status_code == 200
    body = {
        "resource_type": "collection",
        "collection": "todos",
        "operation": "select",
        "client_role": "anon",
        "kind": "everyone",
    }
    response = client.put(url, body, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert transaction.get_connection().in_atomic_block
