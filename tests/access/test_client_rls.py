"""The access rules in PostgreSQL: raw SQL through the app role, with only a client-app
context set and no WHERE clause, returns exactly what the rules allow."""

import json
import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from access.constants import SERVICE_ROLE
from tenants.context import TenantContext, set_tenant_context
from tests.access.conftest import as_client

pytestmark = pytest.mark.django_db


def insert(project, collection, data):
    """A client app's insert, with the body trying to name its owner."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO datastore_record (id, org_id, project_id, collection_id, owner_id,"
            " end_user_id, owner_only, data, version, created_at, updated_at) VALUES"
            " (%s, %s, %s, %s, NULL, %s, false, %s, 1, now(), now())",
            [
                uuid.uuid4(),
                project.org_id,
                project.id,
                collection.id,
                data.pop("claim_owner", None),
                json.dumps(data),
            ],
        )


def visible(sql="SELECT data->>'t' FROM datastore_record"):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return sorted(row[0] for row in cursor.fetchall())


@pytest.fixture
def world(project_a, project_b, todos, set_rule, make_end_user):
    alice = make_end_user(project_a, "alice@example.com")
    bob = make_end_user(project_a, "bob@example.com")
    for op in ("select", "insert", "update", "delete"):
        set_rule(project_a, todos, op, "authenticated", "owner")
    as_client(project_a, "authenticated", alice)
    insert(project_a, todos, {"t": "a1", "claim_owner": str(bob.id)})
    insert(project_a, todos, {"t": "a2"})
    as_client(project_a, "authenticated", bob)
    insert(project_a, todos, {"t": "b1"})
    as_client(project_a, SERVICE_ROLE)
    insert(project_a, todos, {"t": "s1", "published": True})
    set_tenant_context(TenantContext())
    return {"alice": alice, "bob": bob}


def test_owner_rules_show_each_end_user_only_their_rows(world, project_a):
    as_client(project_a, "authenticated", world["alice"])
    assert visible() == ["a1", "a2"]  # a1 claimed bob as owner: the database chose alice
    as_client(project_a, "authenticated", world["bob"])
    assert visible() == ["b1"]
    as_client(project_a, "anon")
    assert visible() == []
    as_client(project_a, SERVICE_ROLE)
    assert visible() == ["a1", "a2", "b1", "s1"]


def test_no_client_context_and_other_projects_see_nothing(world, project_a, project_b):
    as_client(project_b, SERVICE_ROLE)
    assert visible() == []
    as_client(project_b, "authenticated", world["alice"])  # alice's id, wrong project
    assert visible() == []
    # A client context never opens developer policies, whatever org is set with it.
    as_client(project_a, "authenticated", world["alice"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_current_org(), app_is_platform_admin()")
        assert cursor.fetchone() == (None, False)
    assert visible("SELECT id::text FROM tenants_membership") == []
    assert visible("SELECT name FROM tenants_project") == ["app-a"]
    assert visible("SELECT key_hash FROM tenants_projectkey") == []


def test_writes_follow_the_rules(world, project_a, todos):
    as_client(project_a, "authenticated", world["bob"])
    with connection.cursor() as cursor:
        cursor.execute('UPDATE datastore_record SET data = \'{"t": "x"}\'')
        assert cursor.rowcount == 1  # only b1
        cursor.execute("DELETE FROM datastore_record")
        assert cursor.rowcount == 1
    as_client(project_a, "anon")
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        insert(project_a, todos, {"t": "anon"})
    set_tenant_context(TenantContext(platform_admin=True))
    assert visible() == ["a1", "a2", "s1"]


def test_a_new_collection_is_closed_until_rules_are_set(world, project_a, membership_a, set_rule):
    from datastore import services as data_services
    from tests.datastore.conftest import as_member

    as_member(membership_a)
    notes = data_services.collection_create(
        membership=membership_a, project=project_a, name="notes"
    )
    as_client(project_a, SERVICE_ROLE)
    insert(project_a, notes, {"t": "n1", "published": True})
    insert(project_a, notes, {"t": "n2", "published": False})
    sql = f"SELECT data->>'t' FROM datastore_record WHERE collection_id = '{notes.id}'"
    for role, who in (("anon", None), ("authenticated", world["alice"])):
        as_client(project_a, role, who)
        assert visible(sql) == []
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            insert(project_a, notes, {"t": "x"})
    set_rule(project_a, notes, "select", "anon", "everyone", conditions=["published:eq:true"])
    set_rule(project_a, notes, "select", "authenticated", "role", app_role="editor")
    as_client(project_a, "anon")
    assert visible(sql) == ["n1"]
    as_client(project_a, "authenticated", world["alice"])
    assert visible(sql) == []
    as_client(project_a, "authenticated", world["alice"], roles=["editor"])
    assert visible(sql) == ["n1", "n2"]


def test_policy_settings_are_initplans_and_owner_lists_use_the_index(world, project_a, todos):
    as_client(project_a, "authenticated", world["alice"])
    with connection.cursor() as cursor:
        # The suite's tables are tiny and their statistics depend on which tests ran
        # before: take the cheap alternatives away so the choice left is between the
        # two ordered indexes, which an owner list must settle on the narrower one.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM datastore_record"
            " WHERE collection_id = %s AND end_user_id = %s ORDER BY created_at, id LIMIT 20",
            [todos.id, world["alice"].id],
        )
        plan = cursor.fetchone()[0][0]["Plan"]
    text = json.dumps(plan)
    assert "record_coll_enduser" in text
    nodes = []

    def walk(node):
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    # Every subplan ran at most once per statement (InitPlans, hashed rule lookups):
    # nothing per row.
    for node in nodes:
        if node.get("Parent Relationship") in ("InitPlan", "SubPlan"):
            assert node.get("Actual Loops", 0) <= 1, node
    assert any(n.get("Parent Relationship") == "InitPlan" for n in nodes)
