"""Hot endpoints cost a fixed number of SQL statements, however much data is around them.

Two kinds of count. The ``django_assert_*`` guards count the app role's statements through
the whole request inside a test's transaction, where the request's transaction is a
savepoint: each count includes SAVEPOINT / RELEASE and the context reset that only a nested
transaction needs (three statements a production request does not send) and leaves out what
runs after commit. The wire counts at the end are what a production request sends: committed
data, the real middleware stack, and libpq's own trace of the app role's connection
(``PQtrace``: every Query or Execute message the server receives, BEGIN and COMMIT included,
and the after-commit work of webhooks, functions and realtime).

What a request needs of its caller (the user, the membership with its org, the API key with
its project, the collection with its project or its select rule's kind, whether the project
has webhooks or record functions) comes from the process's copies (``cache.entities``) once
a first request has read them; the session check is a Redis hit, as for every request after
login, and reads the copies' epoch in the same round trip. The budgets are today's counts: a
change that adds a round trip to every request has to raise one on purpose.
"""

import os
import tempfile
from contextlib import contextmanager

import pytest
from django.db import connections, transaction
from psycopg import pq

from cache import sessions as session_cache
from datastore import services as data_services
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory, owner_only_client_app

ME = "/api/v1/auth/me/"
# savepoint, user context, account state, memberships with their orgs, reset, release
BUDGET_ME = 6
# savepoint, org context, reset, release
BUDGET_ORG = 4
# ... plus the records (list or one)
BUDGET_RECORD_READ = BUDGET_ORG + 1
# ... plus savepoint, insert, release (the service's own atomic block)
BUDGET_RECORD_CREATE = BUDGET_ORG + 3


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


@pytest.mark.django_db
def test_auth_me_costs_the_same_for_one_org_or_six(user, client, django_assert_num_queries):
    services.org_create(actor=user, name="First", slug="first")
    client.get(ME)  # a new membership is a new epoch: the next request reads the user again
    with django_assert_num_queries(BUDGET_ME):
        assert len(client.get(ME).json()["memberships"]) == 1
    for i in range(5):
        services.org_create(actor=user, name=f"More {i}", slug=f"more-{i}")
    client.get(ME)
    with django_assert_num_queries(BUDGET_ME):
        memberships = client.get(ME).json()["memberships"]
    assert [(m["org_slug"], m["role"]) for m in memberships][:2] == [
        ("first", "owner"),
        ("more-0", "owner"),
    ]
    assert len(memberships) == 6


@pytest.mark.django_db
def test_org_detail(org, client, django_assert_max_num_queries):
    client.get("/api/v1/orgs/org-a/")  # the first request reads the membership
    with django_assert_max_num_queries(BUDGET_ORG):
        assert client.get("/api/v1/orgs/org-a/").json()["slug"] == "org-a"


@pytest.mark.django_db
def test_records_list_and_get(shop, client, django_assert_max_num_queries):
    url, records = shop
    assert client.get(url).status_code == 200  # the first request reads the collection
    with django_assert_max_num_queries(BUDGET_RECORD_READ):
        page = client.get(url, {"limit": 20}).json()
    assert len(page["results"]) == 20 and page["next_cursor"]
    with django_assert_max_num_queries(BUDGET_RECORD_READ):
        assert client.get(f"{url}{records[0].pk}/").json()["data"] == {"n": 0}


@pytest.mark.django_db
def test_record_create(shop, client, django_assert_max_num_queries):
    url, _records = shop
    assert client.get(url).status_code == 200
    with django_assert_max_num_queries(BUDGET_RECORD_CREATE):
        response = client.post(url, {"data": {"n": 99}}, format="json")
    assert response.status_code == 201, response.content


# --- client apps: an end user through the publishable key, owner-only rules -----------------
# The key with its project and the collection with its select rule's kind are copies; the end
# user's session check is a Redis hit. Savepoint, client context, reset, release:
BUDGET_CLIENT = 4
# ... plus the records (list or one)
BUDGET_CLIENT_READ = BUDGET_CLIENT + 1
# ... plus savepoint, insert, release (the service's own atomic block)
BUDGET_CLIENT_CREATE = BUDGET_CLIENT + 3


@pytest.fixture
def client_app(db, org, user):
    from rest_framework.test import APIClient

    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    owner = org.memberships.select_related("org", "user").get(user=user)
    project = services.project_create(membership=owner, name="app")
    world = owner_only_client_app(
        owner, project, operations=("select", "insert", "update", "delete")
    )
    set_tenant_context(TenantContext())
    client = APIClient()
    client.credentials(HTTP_APIKEY=world.raw_key, HTTP_AUTHORIZATION=f"Bearer {world.token}")
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


# --- what production sends: committed data, libpq's trace of the app role's connection -------
# BEGIN, the context (one set_config), the records, COMMIT.
WIRE_READ = 4
# BEGIN, the context, savepoint, insert, release (the service's atomic block), COMMIT; after
# commit nothing more for a project without webhooks or record functions.
WIRE_CREATE = 6


class WireTrace:
    """The statements the app role's connection sends while the block runs (libpq's trace:
    each Query or Execute message the server receives)."""

    def __init__(self):
        self.statements: list[str] = []

    @contextmanager
    def __call__(self):
        connection = connections["default"]
        connection.ensure_connection()
        raw = connection.connection
        pgconn = raw.pgconn
        with tempfile.NamedTemporaryFile("w+") as log:
            pgconn.trace(os.dup(log.fileno()))
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield self
            finally:
                pgconn.untrace()
            # The block ran on the traced connection, or the count would mean nothing.
            assert connections["default"].connection is raw
            log.seek(0)
            messages = [line.split("\t") for line in log.read().splitlines()]
        self.statements = [
            m[3].strip() for m in messages if m[0] == "F" and m[2] in ("Query", "Execute")
        ]

    def __len__(self) -> int:
        return len(self.statements)


def _seed_committed():
    """An org (owner, project, collection of 30 records) and a client app (publishable key,
    owner-only rules, an end user with a session), all committed."""
    from access import services as access_services
    from endusers.models import EndUser
    from endusers.services.sessions import end_user_session_start

    owner = UserFactory()
    org = services.org_create(actor=owner, name="Wire", slug="wire")
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role=Role.OWNER))
        membership = org.memberships.select_related("org", "user").get()
        project = services.project_create(membership=membership, name="app")
        items = data_services.collection_create(
            membership=membership, project=project, name="items"
        )
        records = data_services.record_bulk_create(
            membership=membership, collection=items, items=[{"n": i} for i in range(30)]
        )
        _, key = services.api_key_create(membership=membership, project=project, kind="publishable")
        todos = data_services.collection_create(
            membership=membership, project=project, name="todos"
        )
        for op in ("select", "insert", "update", "delete"):
            access_services.rule_set(
                membership=membership,
                project=project,
                resource_type="collection",
                resource_id=todos.id,
                operation=op,
                client_role="authenticated",
                kind="owner",
            )
    with transaction.atomic():
        set_tenant_context(
            TenantContext(org_id=org.id, project_id=project.id, client_role="service_role")
        )
        end_user = EndUser.objects.create(org_id=org.id, project=project, email="w@example.com")
    token = end_user_session_start(project=project, end_user=end_user).access_token
    url = f"/api/v1/orgs/wire/projects/{project.id}/collections/items/records/"
    return owner, url, records, key, token


def _paths(client, url, first_id):
    return [
        ("list", lambda: client.get(url, {"limit": 20}), WIRE_READ),
        ("get", lambda: client.get(f"{url}{first_id}/"), WIRE_READ),
        ("create", lambda: client.post(url, {"data": {"n": 99}}, format="json"), WIRE_CREATE),
    ]


def test_production_requests_send_four_statements_a_read_six_a_create(committed, client_for):
    from rest_framework.test import APIClient

    owner, url, records, key, token = _seed_committed()
    developer = client_for(owner)
    end_user = APIClient()
    end_user.credentials(HTTP_APIKEY=key, HTTP_AUTHORIZATION=f"Bearer {token}")
    client_url = "/client/v1/collections/todos/records/"
    todo = end_user.post(client_url, {"data": {"n": 0}}, format="json").json()["id"]
    paths = {
        "developer": _paths(developer, url, records[0].pk),
        "client": _paths(end_user, client_url, todo),
    }
    for api, calls in paths.items():
        for _name, call, _budget in calls:  # the first requests read what the copies hold
            assert call().status_code in (200, 201)
        for name, call, budget in calls:
            trace = WireTrace()
            hits = session_cache.stats.hits
            with trace():
                response = call()
            assert response.status_code in (200, 201), response.content
            assert session_cache.stats.hits == hits + 1  # the session was checked, in Redis
            assert len(trace) <= budget, (api, name, trace.statements)
            assert trace.statements[0] == '"BEGIN"' and trace.statements[-1] == '"COMMIT"'
            assert sum("set_config" in s for s in trace.statements) == 1, trace.statements
