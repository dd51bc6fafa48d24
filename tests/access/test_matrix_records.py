"""Every caller x operation x store, for two rule sets, through the client routes.

Callers: anon (publishable key), end users A and B, an end user with the app role ``editor``,
the secret key, a developer's token, another project's publishable key. Collections (one of
records, one of documents, each way):

* ``todos``/``notes``: the demo rules, signed-in owners for all four operations, anon nothing;
* ``posts``/``articles``: "published rows are public": anon and signed-in select with the
  condition ``published:eq:true``; editors update and delete.

An allowed cell does what it asks; a denied one gets 401, 403 or 404 in the one error shape,
and the rows are counted and read back afterwards (platform admin context for records, the
store itself for documents) to show it changed nothing. Documents live in mongomock, the
suite's one fake (no MongoDB server runs here), or in the MongoDB at MONGODB_URL when set.
"""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction

from access.constants import SERVICE_ROLE
from datastore import documents
from datastore.constants import Store
from datastore.models import Record
from endusers.services.sessions import end_user_session_start
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context
from tests.access.conftest import as_client
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db

CALLERS = ("anon", "alice", "bob", "editor", "secret", "developer", "other_project")
OPS = ("select", "insert", "update", "delete")


@pytest.fixture
def world(
    membership_a, project_a, membership_b, project_b, make_collection, set_rule, make_end_user,
    user, client_for, document_store,
):  # fmt: skip
    as_member(membership_a)
    _, publishable = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="publishable"
    )
    _, secret = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="secret", name="server"
    )
    as_member(membership_b)
    _, other = tenant_services.api_key_create(
        membership=membership_b, project=project_b, kind="publishable"
    )
    set_tenant_context(TenantContext())
    people = {
        "alice": make_end_user(project_a, "alice@example.com"),
        "bob": make_end_user(project_a, "bob@example.com"),
        "editor": make_end_user(project_a, "ed@example.com", app_metadata={"roles": ["editor"]}),
    }
    headers = {
        "anon": {"HTTP_APIKEY": publishable},
        "secret": {"HTTP_APIKEY": secret},
        "other_project": {"HTTP_APIKEY": other},
        "developer": {"HTTP_AUTHORIZATION": client_for(user)._credentials["HTTP_AUTHORIZATION"]},
    }
    for name, end_user in people.items():
        session = end_user_session_start(project=project_a, end_user=end_user)
        headers[name] = {
            "HTTP_APIKEY": publishable,
            "HTTP_AUTHORIZATION": f"Bearer {session.access_token}",
        }
    collections = {}
    for name, store in (
        ("todos", Store.RECORDS),
        ("posts", Store.RECORDS),
        ("notes", Store.DOCUMENTS),
        ("articles", Store.DOCUMENTS),
    ):
        collections[name] = make_collection(membership_a, project_a, name, store=store)
    for name in ("todos", "notes"):
        for op in OPS:
            set_rule(project_a, collections[name], op, "authenticated", "owner")
    for name in ("posts", "articles"):
        for role in ("anon", "authenticated"):
            set_rule(
                project_a, collections[name], "select", role, "everyone",
                conditions=["published:eq:true"],
            )  # fmt: skip
        for op in ("update", "delete"):
            set_rule(project_a, collections[name], op, "authenticated", "role", app_role="editor")
    return {"headers": headers, "people": people, "collections": collections, "project": project_a}


# --- seeding and reading back, outside the API ------------------------------------------------
def seed_records(world, name):
    """todos: one row of alice's, one of bob's; posts: one published, one draft."""
    project, collection = world["project"], world["collections"][name]
    rows = (
        [("alice", {"t": "a"}), ("bob", {"t": "b"})]
        if name == "todos"
        else [(None, {"t": "p", "published": True}), (None, {"t": "d", "published": False})]
    )
    ids = []
    for who, data in rows:
        end_user = world["people"][who] if who else None
        as_client(project, "authenticated" if end_user else SERVICE_ROLE, end_user)
        ids.append(
            Record.objects.create(
                org_id=project.org_id, project=project, collection=collection, data=data
            ).pk
        )
    set_tenant_context(TenantContext())
    return ids


def record_rows(world, name):
    set_tenant_context(TenantContext(platform_admin=True))
    rows = sorted(
        (str(r.pk), r.data, r.version)
        for r in Record.objects.filter(collection=world["collections"][name])
    )
    set_tenant_context(TenantContext())
    return rows


def seed_documents(world, name):
    collection = world["collections"][name]
    store = documents.get_database()[documents.physical_name(collection.id)]
    store.delete_many({})
    rows = (
        [("alice", {"t": "a"}), ("bob", {"t": "b"})]
        if name == "notes"
        else [(None, {"t": "p", "published": True}), (None, {"t": "d", "published": False})]
    )
    ids, now = [], datetime.now(UTC)
    for who, data in rows:
        doc_id = uuid.uuid4().hex
        end_user = world["people"][who] if who else None
        store.insert_one(
            {
                **data,
                "_id": doc_id,
                "org_id": str(collection.org_id),
                "project_id": str(collection.project_id),
                "owner_id": None,
                "end_user_id": str(end_user.id) if end_user else None,
                "_v": 1,
                "_created": now,
                "_updated": now,
            }
        )
        ids.append(doc_id)
    return ids


def document_rows(world, name):
    collection = world["collections"][name]
    store = documents.get_database()[documents.physical_name(collection.id)]
    return sorted(
        (d["_id"], documents.present(d)["data"], d["_v"], d.get("end_user_id"))
        for d in store.find({})
    )


# --- what each cell should do -----------------------------------------------------------------
OWNER_RULES = {  # target: alice's row
    "select": {"alice": 200, "secret": 200},
    "insert": {"alice": 201, "bob": 201, "editor": 201, "secret": 201, "anon": 403},
    "update": {"alice": 200, "secret": 200},
    "delete": {"alice": 204, "secret": 204},
}
PUBLISHED_RULES = {  # target: the published row (the draft is checked to stay hidden)
    "select": {c: 200 for c in ("anon", "alice", "bob", "editor", "secret")},
    "insert": {"secret": 201, "anon": 403, "alice": 403, "bob": 403, "editor": 403},
    "update": {"editor": 200, "secret": 200, "anon": 403, "alice": 403, "bob": 403},
    "delete": {"editor": 204, "secret": 204, "anon": 403, "alice": 403, "bob": 403},
}
DENIED_ELSEWHERE = {"developer": 401, "other_project": 404}


def expected(rules, op, caller):
    return rules[op].get(caller, DENIED_ELSEWHERE.get(caller, 404))


def call(api_client, world, caller, op, base, target):
    headers = world["headers"][caller]
    body = {"data": {"t": "new", "published": True}}
    if op == "select":
        return api_client.get(f"{base}{target}/", **headers)
    if op == "insert":
        return api_client.post(base, body, format="json", **headers)
    if op == "update":
        return api_client.patch(f"{base}{target}/", {"data": {"t": "x"}}, format="json", **headers)
    return api_client.delete(f"{base}{target}/", **headers)


def assert_error_shape(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    error = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    text = response.content.decode()
    assert '"t"' not in text  # no row data leaks in an error


CASES = [
    (store, name, rules)
    for store, name, rules in (
        ("records", "todos", OWNER_RULES),
        ("records", "posts", PUBLISHED_RULES),
        ("documents", "notes", OWNER_RULES),
        ("documents", "articles", PUBLISHED_RULES),
    )
]


@pytest.mark.parametrize(("store", "name", "rules"), CASES, ids=[c[1] for c in CASES])
def test_matrix(api_client, world, store, name, rules):
    records = store == "records"
    base = f"/client/v1/collections/{name}/records/" if records else f"/client/v1/documents/{name}/"
    seed = seed_records if records else seed_documents
    rows = record_rows if records else document_rows
    if records:
        seed(world, name)  # records: each cell runs in a savepoint rolled back afterwards
    for caller in CALLERS:
        for op in OPS:
            status = expected(rules, op, caller)
            savepoint = transaction.atomic()
            savepoint.__enter__()
            try:
                if not records:
                    seed(world, name)
                target = sorted(rows(world, name), key=lambda r: r[1]["t"])[0][0]
                if name in ("posts", "articles"):  # ("d", "p"): the published row
                    target = next(r[0] for r in rows(world, name) if r[1]["t"] == "p")
                before = rows(world, name)
                response = call(api_client, world, caller, op, base, target)
                cell = (name, caller, op)
                assert response.status_code == status, (cell, response.content)
                after = rows(world, name)
                if status >= 400:
                    assert_error_shape(response, status)
                    assert after == before, cell
                    continue
                check_allowed(world, caller, op, name, response, before, after, target)
            finally:
                transaction.set_rollback(True)
                savepoint.__exit__(None, None, None)


def check_allowed(world, caller, op, name, response, before, after, target):
    cell = (name, caller, op)
    end_user = world["people"].get(caller)
    if op == "select":
        body = response.json()
        assert body["id"] == target and after == before, cell
        assert "owner_id" not in body and "end_user_id" in body
    elif op == "insert":
        body = response.json()
        assert len(after) == len(before) + 1, cell
        assert body["data"] == {"t": "new", "published": True}
        assert body["end_user_id"] == (str(end_user.id) if end_user else None), cell
    elif op == "update":
        assert response.json()["data"]["t"] == "x"
        changed = [r for r in after if r not in before]
        assert len(changed) == 1 and changed[0][0] == target, cell
    else:
        assert [r[0] for r in before if r not in after] == [target], cell


@pytest.mark.parametrize("store", ["records", "documents"])
def test_lists_show_exactly_what_the_rules_allow(api_client, world, store):
    owner, public = ("todos", "posts") if store == "records" else ("notes", "articles")
    if store == "records":
        seed_records(world, owner), seed_records(world, public)
        prefix = "/client/v1/collections/{}/records/"
    else:
        seed_documents(world, owner), seed_documents(world, public)
        prefix = "/client/v1/documents/{}/"
    seen = {}
    for caller in ("anon", "alice", "bob", "editor", "secret"):
        for name in (owner, public):
            response = api_client.get(prefix.format(name), **world["headers"][caller])
            assert response.status_code == 200, response.content
            seen[caller, name] = sorted(item["data"]["t"] for item in response.json()["results"])
    assert seen["anon", owner] == [] and seen["editor", owner] == []
    assert seen["alice", owner] == ["a"] and seen["bob", owner] == ["b"]
    assert seen["secret", owner] == ["a", "b"] and seen["secret", public] == ["d", "p"]
    for caller in ("anon", "alice", "bob", "editor"):
        assert seen[caller, public] == ["p"]  # the draft stays hidden
