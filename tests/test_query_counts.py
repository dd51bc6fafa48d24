"""Hot endpoints cost a fixed number of SQL statements, however much data is around them.

Counted on the app role's connection through the whole request: authentication (the session
check is a Redis hit, as for every request after login), the tenant middleware's transaction
and context, the view. Inside a test the request's transaction is a savepoint, so each count
includes SAVEPOINT / RELEASE and the context reset that only a nested transaction needs
(three statements a production request does not send). The budgets are today's counts: a
change that adds a round trip to every request has to raise one on purpose.
"""

import pytest

from datastore import services as data_services
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
# user, savepoint, user context, account state, memberships with their orgs, reset, release
BUDGET_ME = 7
# user, savepoint, user context, membership with its org, org context, reset, release
BUDGET_ORG = 7
# ... plus the collection with its project, then the records (list or one)
BUDGET_RECORD_READ = BUDGET_ORG + 2
# ... plus the collection, then savepoint, insert, release (the service's own atomic block)
BUDGET_RECORD_CREATE = BUDGET_ORG + 4


@pytest.fixture
def shop(org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    owner = org.memberships.select_related("org", "user").get(user=user)
    project = services.project_create(membership=owner, name="shop")
    items = data_services.collection_create(membership=owner, project=project, name="items")
    records = data_services.record_bulk_create(
        membership=owner, collection=items, items=[{"n": i} for i in range(30)]
    )
    set_tenant_context(TenantContext())
    return f"/api/v1/orgs/org-a/projects/{project.id}/collections/items/records/", records


@pytest.fixture
def client(user, client_for):
    client = client_for(user)
    assert client.get(ME).status_code == 200  # a process's first request reconciles the cache
    return client


def test_auth_me_costs_the_same_for_one_org_or_six(user, client, django_assert_num_queries):
    services.org_create(actor=user, name="First", slug="first")
    with django_assert_num_queries(BUDGET_ME):
        assert len(client.get(ME).json()["memberships"]) == 1
    for i in range(5):
        services.org_create(actor=user, name=f"More {i}", slug=f"more-{i}")
    with django_assert_num_queries(BUDGET_ME):
        memberships = client.get(ME).json()["memberships"]
    assert [(m["org_slug"], m["role"]) for m in memberships][:2] == [
        ("first", "owner"),
        ("more-0", "owner"),
    ]
    assert len(memberships) == 6


def test_org_detail(org, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(BUDGET_ORG):
        assert client.get("/api/v1/orgs/org-a/").json()["slug"] == "org-a"


def test_records_list_and_get(shop, client, django_assert_max_num_queries):
    url, records = shop
    with django_assert_max_num_queries(BUDGET_RECORD_READ):
        page = client.get(url, {"limit": 20}).json()
    assert len(page["results"]) == 20 and page["next_cursor"]
    with django_assert_max_num_queries(BUDGET_RECORD_READ):
        assert client.get(f"{url}{records[0].pk}/").json()["data"] == {"n": 0}


def test_record_create(shop, client, django_assert_max_num_queries):
    url, _records = shop
    with django_assert_max_num_queries(BUDGET_RECORD_CREATE):
        response = client.post(url, {"data": {"n": 99}}, format="json")
    assert response.status_code == 201, response.content


# --- client apps: an end user through the publishable key, owner-only rules -----------------
# The key's lookup in its own platform context (tenants.selectors.api_key_resolve: read the
# enclosing context, savepoint, context, key with its project, restore, release; the read and
# the restore only inside a test's transaction), then the request's savepoint, client context,
# reset, release. The end user's session check is a Redis hit.
BUDGET_CLIENT = 10
# ... plus the collection with its select rule's kind, then the records (list or one)
BUDGET_CLIENT_READ = BUDGET_CLIENT + 2
# ... plus the collection, then savepoint, insert, release (the service's own atomic block)
BUDGET_CLIENT_CREATE = BUDGET_CLIENT + 4


@pytest.fixture
def client_app(org, user):
    from rest_framework.test import APIClient

    from access import services as access_services
    from endusers.models import EndUser
    from endusers.services.sessions import end_user_session_start

    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    owner = org.memberships.select_related("org", "user").get(user=user)
    project = services.project_create(membership=owner, name="app")
    _, key = services.api_key_create(membership=owner, project=project, kind="publishable")
    todos = data_services.collection_create(membership=owner, project=project, name="todos")
    for op in ("select", "insert", "update", "delete"):
        access_services.rule_set(
            membership=owner,
            project=project,
            resource_type="collection",
            resource_id=todos.id,
            operation=op,
            client_role="authenticated",
            kind="owner",
        )
    set_tenant_context(
        TenantContext(org_id=org.id, project_id=project.id, client_role="service_role")
    )
    end_user = EndUser.objects.create(org_id=org.id, project=project, email="e@example.com")
    set_tenant_context(TenantContext())
    token = end_user_session_start(project=project, end_user=end_user).access_token
    client = APIClient()
    client.credentials(HTTP_APIKEY=key, HTTP_AUTHORIZATION=f"Bearer {token}")
    url = "/client/v1/collections/todos/records/"
    ids = [client.post(url, {"data": {"n": i}}, format="json").json()["id"] for i in range(30)]
    return client, url, ids


def test_client_records_list_and_get(client_app, django_assert_max_num_queries):
    client, url, ids = client_app
    with django_assert_max_num_queries(BUDGET_CLIENT_READ):
        page = client.get(url, {"limit": 20}).json()
    assert len(page["results"]) == 20 and page["next_cursor"]
    with django_assert_max_num_queries(BUDGET_CLIENT_READ):
        assert client.get(f"{url}{ids[0]}/").json()["data"] == {"n": 0}


def test_client_record_create(client_app, django_assert_max_num_queries):
    client, url, _ids = client_app
    with django_assert_max_num_queries(BUDGET_CLIENT_CREATE):
        response = client.post(url, {"data": {"n": 99}}, format="json")
    assert response.status_code == 201, response.content
