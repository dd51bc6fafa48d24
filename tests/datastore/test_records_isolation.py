"""Records across orgs and owners: the RLS policy is the guard, the API answers 404.

Org A and org B each have a project with an ``items`` collection holding rows with the same
shape, so a leak would show up in lists, counts, filters and ordering.
"""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from datastore import services
from datastore.models import Record
from datastore.signals import record_changed
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db


def base(project, collection="items"):
    return f"/api/v1/orgs/{project.org.slug}/projects/{project.id}/collections/{collection}"


@pytest.fixture
def world(membership_a, membership_b, project_a, project_b, make_collection, make_records):
    coll_a = make_collection(membership_a, project_a)
    coll_b = make_collection(membership_b, project_b)
    rows_a = make_records(membership_a, coll_a, [{"n": i, "org": "A"} for i in range(5)])
    rows_b = make_records(membership_b, coll_b, [{"n": i, "org": "B"} for i in range(5)])
    return {"a": rows_a, "b": rows_b, "coll_a": coll_a, "coll_b": coll_b}


def test_user_of_org_b_gets_404_for_org_a_ids_on_every_verb(
    world, project_a, project_b, other_user, client_for
):
    client = client_for(other_user)
    record_a = world["a"][0]
    urls = [
        # A's URL directly (not a member) ...
        f"{base(project_a)}/records/{record_a.id}/",
        # ... and A's record smuggled under B's own org and collection.
        f"{base(project_b)}/records/{record_a.id}/",
    ]
    for target in urls:
        for method in ("get", "put", "patch", "delete"):
            response = getattr(client, method)(target, {"data": {"n": 99}}, format="json")
            assert response.status_code == 404, (method, target, response.content)
    for target in (f"{base(project_a)}/records/", f"{base(project_a)}/", base(project_a) + "/"):
        for method in ("get", "post"):
            assert getattr(client, method)(target, {"data": {}}, format="json").status_code == 404
    set_tenant_context(TenantContext(org_id=record_a.org_id))
    assert Record.objects.get(pk=record_a.pk).data == {"n": 0, "org": "A"}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"count": "true"},
        {"filter": 'org:eq:"A"', "count": "true"},
        {"filter": "n:gte:0", "order": "-n", "count": "true"},
        {"order": "org", "limit": "200"},
        {"filter": 'org:in:["A","B"]', "count": "true"},
    ],
)
def test_lists_counts_filters_and_ordering_never_show_another_org(
    world, project_b, other_user, client_for, params
):
    response = client_for(other_user).get(f"{base(project_b)}/records/", params)
    assert response.status_code == 200
    body = response.json()
    assert {r["data"]["org"] for r in body["results"]} <= {"B"}
    ids = {r["id"] for r in body["results"]}
    assert not ids & {str(r.id) for r in world["a"]}
    if "count" in params:
        assert body["count"] == (0 if params.get("filter") == 'org:eq:"A"' else 5)


def test_raw_sql_through_the_app_role_sees_only_the_context_org(world, membership_b):
    as_member(membership_b)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT org_id) FROM datastore_record")
        assert cursor.fetchone() == (5, 1)
    set_tenant_context(TenantContext())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM datastore_record")
        assert cursor.fetchone()[0] == 0


def test_an_update_cannot_move_a_row_to_another_org_or_owner(world, membership_a, other_user):
    as_member(membership_a)
    record = world["a"][0]
    for column, value in (
        ("org_id", str(world["coll_b"].org_id)),
        ("owner_id", other_user.pk),
        ("collection_id", str(world["coll_b"].id)),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE datastore_record SET {column} = %s WHERE id = %s", [value, record.id]
                )


def test_cannot_insert_into_another_orgs_collection(world, membership_a):
    as_member(membership_a)
    foreign = world["coll_b"]
    with pytest.raises(DatabaseError), transaction.atomic():
        Record.objects.create(
            org_id=foreign.org_id,
            project_id=foreign.project_id,
            collection_id=foreign.id,
            owner_id=membership_a.user_id,
            data={},
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        Record.objects.create(  # own org id, foreign collection
            org_id=membership_a.org_id,
            project_id=foreign.project_id,
            collection_id=foreign.id,
            owner_id=membership_a.user_id,
            data={},
        )


def test_patch_with_org_and_owner_in_the_body_changes_nothing_but_data(
    world, project_a, user, other_user, client_for
):
    record = world["a"][1]
    response = client_for(user).patch(
        f"{base(project_a)}/records/{record.id}/",
        {
            "data": {"n": 42},
            "org_id": str(world["coll_b"].org_id),
            "owner_id": other_user.pk,
            "collection_id": str(world["coll_b"].id),
            "id": str(uuid.uuid4()),
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(record.id)
    set_tenant_context(TenantContext(org_id=record.org_id, role=Role.OWNER))
    stored = Record.objects.get(pk=record.pk)
    assert (stored.org_id, stored.owner_id, stored.collection_id) == (
        record.org_id,
        record.owner_id,
        record.collection_id,
    )
    assert stored.data == {"n": 42, "org": "A"}


@pytest.fixture
def private(membership_a, project_a, make_collection):
    return make_collection(membership_a, project_a, name="private", access="owner")


def test_owner_only_collection_hides_other_users_rows_from_members(
    private, project_a, add_member, user, client_for
):
    dev1, dev2 = add_member(Role.DEVELOPER), add_member(Role.DEVELOPER)
    admin = add_member(Role.ADMIN)
    url = f"{base(project_a, 'private')}/records/"
    mine = client_for(dev1.user).post(url, {"data": {"secret": 1}}, format="json").json()
    client_for(dev2.user).post(url, {"data": {"secret": 2}}, format="json")

    def secrets(member_user, **params):
        body = client_for(member_user).get(url, {"count": "true", **params}).json()
        return sorted(r["data"]["secret"] for r in body["results"]), body["count"]

    assert secrets(dev1.user) == ([1], 1)
    assert secrets(dev2.user) == ([2], 1)
    assert secrets(dev2.user, filter="secret:eq:1") == ([], 0)
    assert secrets(admin.user) == ([1, 2], 2)  # admin override by role
    assert secrets(user) == ([1, 2], 2)  # the org owner
    other = client_for(dev2.user)
    for method in ("get", "put", "patch", "delete"):
        response = getattr(other, method)(f"{url}{mine['id']}/", {"data": {}}, format="json")
        assert response.status_code == 404, method


def test_owner_only_is_enforced_by_the_policy_itself(private, membership_a, add_member):
    dev1, dev2 = add_member(Role.DEVELOPER), add_member(Role.DEVELOPER)
    as_member(dev1)
    record = services.record_create(membership=dev1, collection=private, data={"x": 1})
    as_member(dev2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM datastore_record")  # no WHERE at all
        assert cursor.fetchone()[0] == 0
        cursor.execute("UPDATE datastore_record SET data = '{}' WHERE id = %s", [record.id])
        assert cursor.rowcount == 0
    # Writing a row owned by someone else into an owner-only collection is refused too,
    # even with a forged owner_only flag (the trigger copies it from the collection).
    with pytest.raises(DatabaseError), transaction.atomic():
        Record.objects.create(
            org_id=private.org_id,
            project_id=private.project_id,
            collection=private,
            owner_id=dev1.user_id,
            owner_only=False,
            data={},
        )
    set_tenant_context(TenantContext(org_id=private.org_id, user_id=dev2.user_id, role="admin"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM datastore_record")
        assert cursor.fetchone()[0] == 1


def test_switching_a_collection_to_owner_only_hides_rows(
    world, membership_a, project_a, add_member, client_for
):
    dev = add_member(Role.DEVELOPER)
    url = f"{base(project_a)}/records/"
    assert client_for(dev.user).get(url, {"count": "true"}).json()["count"] == 5
    as_member(membership_a)
    services.collection_update(membership=membership_a, collection=world["coll_a"], access="owner")
    set_tenant_context(TenantContext())
    assert client_for(dev.user).get(url, {"count": "true"}).json()["count"] == 0


def test_writes_announce_after_commit(
    membership_a, project_a, make_collection, django_capture_on_commit_callbacks
):
    collection = make_collection(membership_a, project_a)
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    record_changed.connect(receiver)
    try:
        as_member(membership_a)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            record = services.record_create(
                membership=membership_a, collection=collection, data={"a": 1}
            )
            services.record_update(
                membership=membership_a,
                collection=collection,
                record_id=record.id,
                data={"b": 2},
                merge=True,
            )
            services.record_delete(
                membership=membership_a, collection=collection, record_id=record.id
            )
        assert events == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        record_changed.disconnect(receiver)
    assert [e["op"] for e in events] == ["create", "update", "delete"]
    assert events[1]["data"] == {"a": 1, "b": 2}
    assert {e["record_id"] for e in events} == {record.id}
    assert all(e["org_id"] == membership_a.org_id for e in events)
    assert all(e["owner_id"] == membership_a.user_id for e in events)
