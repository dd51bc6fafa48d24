"""Row-level security: isolation holds in PostgreSQL itself, on the app role's connection."""

import uuid

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from tenants import roles as tenant_roles
from tenants import services
from tenants.context import NoTransaction, TenantContext, set_tenant_context
from tenants.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_orgs(user, other_user, org, other_org):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    membership_a = org.memberships.get(user=user)
    a1 = services.project_create(membership=membership_a, name="a1")
    a2 = services.project_create(membership=membership_a, name="a2")
    set_tenant_context(TenantContext(org_id=other_org.id, user_id=other_user.pk))
    membership_b = other_org.memberships.get(user=other_user)
    b1 = services.project_create(membership=membership_b, name="bravo-project")
    set_tenant_context(TenantContext())
    return {"a": [a1, a2], "b": [b1]}


def test_user_lists_only_own_org_projects(two_orgs, user, client_for):
    response = client_for(user).get("/api/v1/orgs/org-a/projects/")
    assert response.status_code == 200
    assert sorted(p["name"] for p in response.json()) == ["a1", "a2"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_orgs_project_is_404_on_every_verb(two_orgs, user, client_for, method):
    foreign = two_orgs["b"][0]
    client = client_for(user)
    # Through the other org's URL (not a member) and smuggled under the user's own org.
    for url in (
        f"/api/v1/orgs/org-b/projects/{foreign.id}/",
        f"/api/v1/orgs/org-a/projects/{foreign.id}/",
    ):
        response = getattr(client, method)(url, {"name": "x"}, format="json")
        assert response.status_code == 404, (url, response.content)
        assert "bravo-project" not in response.content.decode()
    set_tenant_context(TenantContext(org_id=foreign.org_id))
    assert Project.objects.get(pk=foreign.pk).name == "bravo-project"  # still there, unchanged


@pytest.mark.urls("tests.tenants.rawsql_urls")
def test_raw_sql_without_where_sees_only_the_request_org(two_orgs, user, client_for):
    body = client_for(user).get("/api/v1/orgs/org-a/rawcount/project").json()
    assert body["count"] == 2
    assert body["role"] == settings.DATABASE_APP_USER


@pytest.mark.urls("tests.tenants.rawsql_urls")
def test_raw_sql_in_foreign_org_is_refused_before_any_sql(two_orgs, user, client_for):
    with CaptureQueriesContext(connection) as queries:
        response = client_for(user).get("/api/v1/orgs/org-b/rawcount/project")
    assert response.status_code == 404
    assert not any("tenants_project" in q["sql"] for q in queries.captured_queries)


def _tenant_tables(cursor) -> dict[str, tuple[bool, bool]]:
    """Every table the catalog shows with an org, project or owner column (and the org table
    itself): name -> (RLS enabled, RLS forced)."""
    cursor.execute(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND (c.relname = 'tenants_organization' OR EXISTS (
              SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                AND (a.attname IN ('org_id', 'project_id', 'owner_id')
                     OR a.attname LIKE '%\\_org\\_id')))
        """
    )
    return {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}


def test_no_org_set_sees_zero_rows(two_orgs):
    set_tenant_context(TenantContext())
    with connection.cursor() as cursor:
        tables = [t for t in _tenant_tables(cursor) if t not in tenant_roles.OWNER_ONLY_TABLES]
        assert "tenants_project" in tables and len(tables) > 15
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0, table


def test_app_role_is_not_privileged_and_owns_nothing(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        )
        role, superuser, bypass, createrole = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s",
            [role],
        )
        owned = cursor.fetchone()[0]
    assert role == settings.DATABASE_APP_USER
    assert (superuser, bypass, createrole, owned) == (False, False, False, 0)


def test_app_role_cannot_turn_row_security_off(two_orgs):
    set_tenant_context(TenantContext(org_id=two_orgs["a"][0].org_id))
    with pytest.raises(DatabaseError, match="row-level security"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL row_security = off")
            cursor.execute("SELECT count(*) FROM tenants_project")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE tenants_project DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE tenants_project NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON tenants_project",
        "ALTER ROLE CURRENT_USER BYPASSRLS",
        "TRUNCATE tenants_project",
    ],
)
def test_app_role_cannot_weaken_rls(db, statement):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)


def test_every_tenant_table_has_rls_enabled_forced_and_a_policy_per_command(db):
    """From the catalog, not a list: a new table with an org, project or owner column and no
    RLS fails here. Only the owner-only tables are exempt, and the app role may not touch
    them at all."""
    with connection.cursor() as cursor:
        tables = _tenant_tables(cursor)
        cursor.execute(
            """
            SELECT c.relname, p.polcmd, p.polwithcheck IS NOT NULL
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
            """
        )
        policies: dict[str, set[str]] = {}
        for table, command, has_check in cursor.fetchall():
            covered = {"r", "a", "w", "d"} if command == "*" else {command}
            if not has_check:
                covered -= {"a", "w"}  # a write without WITH CHECK could move a row out
            policies.setdefault(table, set()).update(covered)
        exempt = set(tenant_roles.OWNER_ONLY_TABLES)
        assert exempt <= set(tables)
        for table, (enabled, forced) in tables.items():
            if table in exempt:
                continue
            assert enabled and forced, table
            assert policies.get(table, set()) == {"r", "a", "w", "d"}, (table, policies.get(table))
        for table in exempt:
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    "SELECT has_table_privilege(current_user, %s, %s)", [table, privilege]
                )
                assert cursor.fetchone()[0] is False, (table, privilege)


def test_app_role_owns_no_relation_and_no_function(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        relations = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        functions = cursor.fetchone()[0]
    assert (relations, functions) == (0, 0)


def test_write_into_another_org_is_rejected_by_with_check(two_orgs, user):
    org_a = two_orgs["a"][0].org_id
    org_b = two_orgs["b"][0].org_id
    set_tenant_context(TenantContext(org_id=org_a, user_id=user.pk))
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        Project.objects.create(org_id=org_b, name="smuggled")
    # Moving an own row to the other org is refused too.
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        Project.objects.filter(pk=two_orgs["a"][0].pk).update(org_id=org_b)


def test_context_needs_a_transaction(db):
    # The test itself runs in a transaction; step outside it on a fresh connection alias.
    conn = connections["default"]
    assert conn.in_atomic_block
    with pytest.raises(NoTransaction):
        set_tenant_context(TenantContext(org_id=uuid.uuid4()), using="owner")
