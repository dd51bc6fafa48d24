"""The Studio database browser: org -> project -> collection, paging, JSON view, filters, all
under the chosen org's RLS context (never the platform-admin flag).

MongoDB is mongomock here (the one fake in the suite).
"""

import mongomock
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datastore import documents
from tenants.constants import Role
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db

URL = "/studio/datastore/collection/browser/"


@pytest.fixture
def data(
    membership_a, membership_b, project_a, project_b, make_collection, make_records, add_member
):
    private = make_collection(membership_a, project_a, name="private", access="owner")
    dev = add_member(Role.DEVELOPER)
    make_records(membership_a, private, [{"secret": i, "who": "owner"} for i in range(30)])
    make_records(dev, private, [{"secret": 100, "who": "dev-row-marker"}])
    foreign = make_collection(membership_b, project_b, name="private")
    make_records(membership_b, foreign, [{"secret": 999, "who": "leak-marker-b"}])
    return {"private": private, "project": project_a}


def page(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_pick_org_project_collection_and_page(admin_client, data, project_a):
    assert "org-a" in page(admin_client) and "org-b" in page(admin_client)
    assert "app-a" in page(admin_client, org="org-a")
    assert "private" in page(admin_client, org="org-a", project=project_a.id)
    base = {"org": "org-a", "project": project_a.id, "store": "records", "collection": "private"}
    first = page(admin_client, **base)
    # Every row of the org, whoever owns it (the browser acts as an org admin), none of B's.
    assert "31 matches" in first
    assert "dev-row-marker" in page(admin_client, **base, filter='who:eq:"dev-row-marker"')
    assert "leak-marker-b" not in first
    assert "0 matches" in page(admin_client, **base, filter='who:eq:"leak-marker-b"')
    assert "Next page" in first
    filtered = page(admin_client, **base, filter="secret:gte:28")
    assert "3 matches" in filtered
    bad = page(admin_client, **base, filter="secret:like:1")
    assert "Unknown operator" in bad


def test_record_json_view(admin_client, data, project_a, membership_a):
    as_member(membership_a)
    one = data["private"].records.first()
    html = page(
        admin_client,
        org="org-a",
        project=project_a.id,
        store="records",
        collection="private",
        record=one.id,
    )
    assert "&quot;secret&quot;" in html and str(one.id) in html


def test_browser_queries_run_in_the_org_context_not_as_platform_admin(
    admin_client, data, project_a
):
    with CaptureQueriesContext(connection) as queries:
        page(admin_client, org="org-a", project=project_a.id, store="records", collection="private")
    sqls = [q["sql"] for q in queries.captured_queries]
    record_selects = [i for i, s in enumerate(sqls) if 'FROM "datastore_record"' in s]
    assert record_selects
    for index in record_selects:
        context = next(s for s in reversed(sqls[:index]) if "set_config('app.org_id'" in s)
        assert str(project_a.org_id) in context
        assert "set_config('app.platform_admin', '', true)" in context


def test_documents_in_the_browser(admin_client, membership_a, project_a, make_collection):
    documents.set_client(mongomock.MongoClient(tz_aware=True))
    try:
        notes = make_collection(membership_a, project_a, name="notes", store="documents")
        as_member(membership_a)
        repo = documents.TenantDocuments(collection=notes, membership=membership_a)
        created = repo.insert_many([{"title": "hello"}, {"title": "world"}])
        base = {
            "org": "org-a",
            "project": project_a.id,
            "store": "documents",
            "collection": "notes",
        }
        html = page(admin_client, **base, filter='{"title": "world"}')
        assert "1 match" in html and "world" in html and "hello" not in html
        assert "not allowed" in page(admin_client, **base, filter='{"$where": "1"}')
        detail = page(admin_client, **base, record=created[0]["id"])
        assert "hello" in detail
    finally:
        documents.set_client(None)


def test_only_staff_and_org_admins_reach_the_browser(client, user):
    # A user who is neither platform staff nor an org owner/admin is sent to the login page.
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302 and "/studio/login/" in response["Location"]
