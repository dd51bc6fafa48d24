"""The table editor (Django's test client): the grid, inline cell edits, rows added, replaced
as JSON and deleted, sort/filter/keyset paging in the data API's grammar, schema and index
editing; all through the data services under RLS, read-only without WRITE_DATA, 404 for
another org. Documents use mongomock (the one fake in the suite: no MongoDB runs here)."""

import json
import re

import mongomock
import pytest
from django.urls import URLPattern, get_resolver

from authn.constants import AuditAction
from authn.models import AuditEvent
from datastore import documents
from datastore import services as data_services
from datastore.models import Record
from tenants.constants import ROLE_PERMISSIONS, USE_STUDIO, Role
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tests.datastore.conftest import as_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PLATFORM = TenantContext(platform_admin=True)
QUERIES = 16  # a page of the grid: the Studio's own lookups, then count + one page of rows
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "done": {"type": "boolean"}, "n": {}},
}


def table(project, *parts) -> str:
    return f"/studio/o/org-a/p/{project.id}/table/" + "".join(f"{p}/" for p in parts)


@pytest.fixture
def tasks(membership_a, project_a):
    as_member(membership_a)
    collection = data_services.collection_create(
        membership=membership_a, project=project_a, name="tasks", json_schema=SCHEMA
    )
    data_services.record_bulk_create(
        membership=membership_a,
        collection=collection,
        items=[{"title": f"task {n:02}", "done": n % 2 == 0, "n": n} for n in range(30)],
    )
    set_tenant_context(TenantContext())
    return collection


def first_record(collection, **data) -> Record:
    with tenant_context(PLATFORM):
        return Record.objects.filter(collection=collection, data__contains=data).get()


def record_data(collection, record_id) -> dict:
    with tenant_context(PLATFORM):
        return Record.objects.get(collection=collection, pk=record_id).data


@pytest.fixture
def studio_roles(monkeypatch):
    """Developers and viewers may open the Studio, whatever the map grants today: each page
    asks for its own read and write permissions."""
    for role in (Role.DEVELOPER, Role.VIEWER):
        monkeypatch.setitem(ROLE_PERMISSIONS, role, ROLE_PERMISSIONS[role] | {USE_STUDIO})


def test_the_grid_shows_the_schema_columns_sorted_filtered_and_keyset_paged(
    client, user, project_a, tasks, django_assert_max_num_queries
):
    client.force_login(user)
    body = client.get(table(project_a)).content.decode()
    assert table(project_a, "tasks") in body

    with django_assert_max_num_queries(QUERIES):
        page = client.get(table(project_a, "tasks"), {"order": "-n", "filter": "done:eq:true"})
    assert page.status_code == 200
    html = page.content.decode()
    headers = re.findall(r'<th scope="col"><a href="\?[^"]*">(\w+)</a>', html)
    assert sorted(headers[:3]) == ["done", "n", "title"]  # the JSON Schema's properties
    assert "15 rows" in html
    titles = re.findall(r'data-field="title"[^>]*>(task \d+)<', html)
    assert titles[:3] == ["task 28", "task 26", "task 24"]
    assert len(titles) == 15

    # Keyset paging: 30 rows, 25 a page; the next page carries the cursor and the order.
    first = client.get(table(project_a, "tasks"), {"order": "n"}).content.decode()
    assert len(re.findall(r'data-field="title"', first)) == 25
    next_query = re.search(r'href="\?([^"]+)" id="next-page"', first).group(1)
    assert "cursor=" in next_query and "order=n" in next_query
    second = client.get(table(project_a, "tasks") + "?" + next_query.replace("&amp;", "&"))
    assert re.findall(r'data-field="title"[^>]*>(task \d+)<', second.content.decode()) == [
        f"task {n}" for n in range(25, 30)
    ]
    assert 'id="next-page"' not in second.content.decode()

    bad = client.get(table(project_a, "tasks"), {"filter": "n:like:3"})
    assert bad.status_code == 200 and 'id="table-error"' in bad.content.decode()


def test_a_cell_edit_is_a_merge_patch_the_api_sees(client, client_for, user, project_a, tasks):
    client.force_login(user)
    record = first_record(tasks, n=3)
    cell = table(project_a, "tasks", "rows", record.id, "cell")
    answer = client.post(cell, {"field": "title", "value": "42", "version": "1"})
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"text": "42", "present": True, "version": 2}
    # A string column keeps the text; a JSON column takes JSON; an empty cell removes the key.
    client.post(cell, {"field": "n", "value": "[1, 2]", "version": "2"})
    client.post(cell, {"field": "extra", "value": '{"a": 1}'})
    api = client_for(user).get(
        f"/api/v1/orgs/org-a/projects/{project_a.id}/collections/tasks/records/{record.id}/"
    )
    assert api.json()["data"] == {"title": "42", "done": False, "n": [1, 2], "extra": {"a": 1}}
    assert api.json()["version"] == 4
    client.post(cell, {"field": "extra", "value": ""})
    assert "extra" not in record_data(tasks, record.id)

    stale = client.post(cell, {"field": "title", "value": "x", "version": "1"})
    assert stale.status_code == 409 and "changed" in stale.json()["error"]
    invalid = client.post(cell, {"field": "done", "value": "maybe"})
    assert invalid.status_code == 400 and "done" in invalid.json()["error"]
    for field in ("a..b", "a.b", ""):
        assert client.post(cell, {"field": field, "value": "1"}).status_code == 400, field
    missing = table(project_a, "tasks", "rows", "00000000-0000-0000-0000-000000000000", "cell")
    assert client.post(missing, {"field": "title", "value": "x"}).status_code == 404
    assert client.get(cell).status_code == 405


def test_rows_are_added_replaced_as_json_and_deleted(client, user, project_a, tasks):
    client.force_login(user)
    grid = table(project_a, "tasks")
    added = client.post(grid, {"col:title": "new one", "col:done": "true", "col:n": ""})
    assert added.status_code == 303
    record = first_record(tasks, title="new one")
    assert record.data == {"title": "new one", "done": True}
    refused = client.post(grid, {"col:done": "nope"}, follow=True)
    assert "Row not added" in refused.content.decode()

    row = table(project_a, "tasks", "rows", record.id)
    editor = client.get(row).content.decode()
    assert 'id="row-json"' in editor and "new one" in editor
    saved = client.post(row, {"data": '{"title": "json", "n": 7}', "version": "1"})
    assert saved.status_code == 303
    assert record_data(tasks, record.id) == {"title": "json", "n": 7}
    for text in ("[1]", "{", '{"done": "no"}'):
        answer = client.post(row, {"data": text})
        assert answer.status_code == 400 and 'id="row-error"' in answer.content.decode(), text

    deleted = client.post(row + "delete/", {"version": "2", "next": grid + "?order=n"})
    assert deleted.status_code == 303 and deleted["Location"] == grid + "?order=n"
    with tenant_context(PLATFORM):
        assert not Record.objects.filter(pk=record.id).exists()
    assert client.get(row).status_code == 404
    elsewhere = client.post(
        table(project_a, "tasks", "rows", first_record(tasks, n=1).id, "delete"),
        {"next": "https://evil.example/"},
    )
    assert elsewhere["Location"] == grid  # never a redirect off the site


def test_schema_and_indexes_are_edited_through_the_service(client, user, project_a, tasks):
    client.force_login(user)
    url = table(project_a, "tasks", "schema")
    assert "json-schema" in client.get(url).content.decode()
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    saved = client.post(
        url, {"json_schema": json.dumps(schema), "indexes": "title\nn\n", "access": "org"}
    )
    assert saved.status_code == 303
    with tenant_context(PLATFORM):
        tasks.refresh_from_db()
    assert tasks.json_schema == schema and tasks.indexes == ["n", "title"]
    with tenant_context(PLATFORM):
        assert AuditEvent.objects.filter(action=AuditAction.COLLECTION_UPDATE).exists()
    for data in ({"json_schema": '{"type": 3}'}, {"indexes": "a..b"}, {"json_schema": "{"}):
        answer = client.post(url, {"json_schema": "", "indexes": "", "access": "org", **data})
        assert answer.status_code == 400 and 'id="schema-error"' in answer.content.decode()
    created = client.post(table(project_a), {"name": "notes", "store": "records"})
    assert created.status_code == 303 and created["Location"] == table(project_a, "notes")
    assert (
        "already exists"
        in client.post(table(project_a), {"name": "notes"}, follow=True).content.decode()
    )


def test_a_viewer_reads_the_editor_and_cannot_write(
    client, add_member, project_a, tasks, studio_roles
):
    viewer = add_member(Role.VIEWER).user
    client.force_login(viewer)
    record = first_record(tasks, n=0)
    row = table(project_a, "tasks", "rows", record.id)
    for url in (
        table(project_a),
        table(project_a, "tasks"),
        row,
        table(project_a, "tasks", "schema"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert 'id="read-only"' in body
        for control in ('id="row-add"', 'id="row-json"', "Delete</button>", "Save", "Create"):
            assert control not in body, (url, control)
    assert 'data-editable="false"' in client.get(table(project_a, "tasks")).content.decode()
    writes = [
        (table(project_a), {"name": "x"}),
        (table(project_a, "tasks"), {"col:title": "x"}),
        (row + "cell/", {"field": "title", "value": "x"}),
        (row, {"data": "{}"}),
        (row + "delete/", {}),
        (table(project_a, "tasks", "schema"), {"json_schema": ""}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert record_data(tasks, record.id) == record.data


def test_a_developer_sees_owner_only_rows_as_the_api_shows_them(
    client, client_for, membership_a, add_member, project_a, studio_roles
):
    developer = add_member(Role.DEVELOPER)
    as_member(membership_a)
    private = data_services.collection_create(
        membership=membership_a, project=project_a, name="private", access="owner"
    )
    data_services.record_create(membership=membership_a, collection=private, data={"who": "owner"})
    as_member(developer)
    data_services.record_create(membership=developer, collection=private, data={"who": "dev"})
    set_tenant_context(TenantContext())

    client.force_login(developer.user)
    body = client.get(table(project_a, "private")).content.decode()
    api = client_for(developer.user).get(
        f"/api/v1/orgs/org-a/projects/{project_a.id}/collections/private/records/"
    )
    seen_by_api = [r["data"]["who"] for r in api.json()["results"]]
    assert seen_by_api == ["dev"]
    assert re.findall(r'data-field="who"[^>]*>(\w+)<', body) == seen_by_api
    owners_row = first_record(private, who="owner")
    assert client.get(table(project_a, "private", "rows", owners_row.id)).status_code == 404
    cell = table(project_a, "private", "rows", owners_row.id, "cell")
    assert client.post(cell, {"field": "who", "value": "x"}).status_code == 404
    assert record_data(private, owners_row.id) == {"who": "owner"}


def studio_data_urls(project, collection, row, bucket, function) -> list[str]:
    """Every route of studio.urls, its parameters filled (a new route needs a value here)."""
    values = {
        "org": "org-a",
        "project": str(project.id),
        "collection": collection,
        "row": str(row),
        "bucket": bucket,
        "function": function,
    }
    urls = []
    for entry in get_resolver().url_patterns:
        if getattr(entry, "namespace", None) != "studio":
            continue
        for pattern in entry.url_patterns:
            assert isinstance(pattern, URLPattern)
            route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], str(pattern.pattern))
            urls.append("/studio/" + route)
    return urls


def test_another_orgs_admin_gets_404_on_every_console_url(client, membership_b, project_a, tasks):
    record = first_record(tasks, n=0)
    urls = studio_data_urls(project_a, "tasks", record.id, "files", "hello")
    assert len(urls) == 13
    for url in urls:  # anonymous: the login page
        assert client.get(url)["Location"].startswith("/studio/login/"), url
    client.force_login(UserFactory())  # a member of no org: the tenant middleware's 404
    for url in urls:
        assert client.get(url).status_code == 404, url
    client.force_login(membership_b.user)  # the owner of org B
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"field": "title", "value": "x"}).status_code == 404, url
    other = f"/studio/o/org-b/p/{project_a.id}/table/tasks/"
    assert client.get(other).status_code == 404
    assert record_data(tasks, record.id) == record.data


@pytest.fixture
def fake_mongo():
    documents.set_client(mongomock.MongoClient(tz_aware=True))
    yield
    documents.set_client(None)


def test_documents_are_edited_likewise(client, user, membership_a, project_a, fake_mongo):
    as_member(membership_a)
    notes = data_services.collection_create(
        membership=membership_a, project=project_a, name="notes", store="documents"
    )
    repository = documents.TenantDocuments(collection=notes, membership=membership_a)
    doc = repository.insert_many([{"text": "hello", "stars": 1}])[0]
    set_tenant_context(TenantContext())
    client.force_login(user)
    grid = table(project_a, "notes") + "?store=documents"
    body = client.get(grid).content.decode()
    assert "hello" in body and 'data-field="stars"' in body
    cell = table(project_a, "notes", "rows", doc["id"], "cell") + "?store=documents"
    answer = client.post(cell, {"field": "stars", "value": "5", "version": "1"})
    assert answer.status_code == 200 and answer.json()["version"] == 2
    added = client.post(table(project_a, "notes") + "?store=documents", {"col:text": "two"})
    assert added.status_code == 303
    query = {"store": "documents", "query": '{"text": "two"}'}
    filtered = client.get(table(project_a, "notes"), query).content.decode()
    assert "two" in filtered and "hello" not in filtered
    as_member(membership_a)
    assert repository.get(doc["id"])["data"] == {"text": "hello", "stars": 5}
    assert repository.count(None) == 2


def test_columns_put_the_required_properties_first_then_the_fields_seen():
    from types import SimpleNamespace

    from studio.table_editor import Row, columns

    schema = {"properties": {"done": {}, "title": {}, "n": {}}, "required": ["title", "n"]}
    rows = [Row("1", {"title": "a", "extra": 1}, 1, None), Row("2", {"more": 2}, 1, None)]
    assert columns(SimpleNamespace(json_schema=schema), rows) == [
        "title", "n", "done", "extra", "more",
    ]  # fmt: skip
    assert columns(SimpleNamespace(json_schema=None), rows) == ["title", "extra", "more"]
