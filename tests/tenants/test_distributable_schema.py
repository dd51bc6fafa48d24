"""The schema can be distributed by ``org_id`` (Citus), read from PostgreSQL's own catalog.

A *tenant table* is a table in ``public`` that has an ``org_id`` column and row-level security
FORCED (``tenants.rls.EnableRLS``), minus ``REFERENCE_TABLES`` below. Each tenant table would be
``create_distributed_table('<table>', 'org_id')`` (all colocated); every other table would be a
reference table (copied to every node) or stay on the coordinator. Citus accepts that only if:

* every PRIMARY KEY, UNIQUE constraint and unique index of a tenant table includes ``org_id``
  (a node can enforce uniqueness only within its own shards);
* every FOREIGN KEY between two tenant tables includes ``org_id`` on both sides, at the same
  position (so both rows live on the same node);
* no table outside the tenant set has a FOREIGN KEY into a tenant table (a reference table
  cannot point at a distributed one);
* ``org_id`` is NOT NULL on tenant tables (a row with no distribution value has no shard).

Foreign keys from tenant tables to reference tables (organizations, projects, users) are fine.
docs/scaling.md says how the move is made and what was not tried here.
"""

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

# Tables that carry org_id under forced RLS but would be reference tables (or coordinator-local
# tables), each with its reason. docs/scaling.md repeats this list.
REFERENCE_TABLES = {
    # Looked up by the globally unique ref in the URL (/p/<ref>/) before the org is known; one
    # small row per project, read on every client request and joined by most tenant tables.
    "tenants_project": "globally unique ref, resolved before the org is known",
    # The API key is looked up by its hash before the project (and so the org) is known.
    "tenants_projectkey": "globally unique key hash, looked up before the org is known",
    # Accepting an invitation finds it by its token's hash, before the org is known.
    "tenants_invitation": "globally unique token hash, looked up before the org is known",
    # A user's orgs are listed by user on every developer request (the org switcher, the role
    # check); small, rarely written.
    "tenants_membership": "read by user across orgs; small and rarely written",
    # One row per project, read on every end-user auth call together with the project.
    "endusers_projectauthsettings": "one row per project (unique project_id), read with it",
    # Developer sessions and account events have no org (org_id NULL); the platform's own.
    "authn_session": "org_id is NULL for developer sessions",
    "authn_auditevent": "org_id is NULL for account events",
    # Alerting is platform-wide where org_id is NULL (the platform's own rules and channels).
    "observability_alertchannel": "org_id is NULL for platform-wide channels",
    "observability_alertrule": "org_id is NULL for platform-wide rules",
    "observability_alert": "org_id is NULL for platform-wide alerts",
    "observability_alertdelivery": "org_id is NULL for platform-wide alerts",
}


def _rows(sql: str, params: tuple = ()) -> list[tuple]:
    # The owner reads the catalog: the app role sees it too, but migrations are the owner's.
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _org_rls_tables() -> set[str]:
    return {
        name
        for (name,) in _rows(
            """
            SELECT c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'
                                AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relforcerowsecurity
            """
        )
    }


def tenant_tables() -> set[str]:
    return _org_rls_tables() - set(REFERENCE_TABLES)


def test_the_tenant_set_is_what_this_module_says():
    tables = _org_rls_tables()
    # The reference list names only tables that exist and would otherwise count as tenant
    # tables: a renamed or dropped table must leave the list too.
    assert set(REFERENCE_TABLES) <= tables, set(REFERENCE_TABLES) - tables
    # The tenant set is not empty and holds the tables the platform is about.
    assert {"datastore_record", "datastore_collection", "storage_storedobject"} <= tenant_tables()


def test_org_id_is_not_null_on_tenant_tables():
    offenders = _rows(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'
        WHERE c.relname = ANY(%s) AND NOT a.attnotnull
        """,
        (sorted(tenant_tables()),),
    )
    assert offenders == []


def test_every_unique_index_of_a_tenant_table_includes_org_id():
    # pg_index covers PRIMARY KEY and UNIQUE constraints (each has its index) and bare unique
    # indexes alike.
    offenders = _rows(
        """
        SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'
        WHERE c.relname = ANY(%s) AND x.indisunique AND NOT a.attnum = ANY(x.indkey)
        ORDER BY 1, 2
        """,
        (sorted(tenant_tables()),),
    )
    assert offenders == [], "\n".join(f"{t}: {d}" for t, _, d in offenders)


def test_every_tenant_table_has_a_primary_key():
    tables = tenant_tables()
    with_pk = {
        name
        for (name,) in _rows(
            "SELECT c.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE k.contype = 'p' AND c.relname = ANY(%s)",
            (sorted(tables),),
        )
    }
    assert tables - with_pk == set()


def test_foreign_keys_between_tenant_tables_pair_org_id_with_org_id():
    # For each foreign key from a tenant table to a tenant table: the position of org_id in
    # the referencing columns must hold org_id in the referenced columns.
    offenders = _rows(
        """
        SELECT src.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class src ON src.oid = k.conrelid
        JOIN pg_class dst ON dst.oid = k.confrelid
        JOIN pg_attribute sa ON sa.attrelid = src.oid AND sa.attname = 'org_id'
        JOIN pg_attribute da ON da.attrelid = dst.oid AND da.attname = 'org_id'
        WHERE k.contype = 'f' AND src.relname = ANY(%s) AND dst.relname = ANY(%s)
          AND NOT EXISTS (
              SELECT 1 FROM generate_subscripts(k.conkey, 1) AS pos
              WHERE k.conkey[pos] = sa.attnum AND k.confkey[pos] = da.attnum
          )
        ORDER BY 1, 2
        """,
        (sorted(tenant_tables()), sorted(tenant_tables())),
    )
    assert offenders == [], "\n".join(f"{t}: {d}" for t, _, d in offenders)


def test_no_table_outside_the_tenant_set_points_into_it():
    tables = sorted(tenant_tables())
    offenders = _rows(
        """
        SELECT src.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class src ON src.oid = k.conrelid
        JOIN pg_class dst ON dst.oid = k.confrelid
        WHERE k.contype = 'f' AND dst.relname = ANY(%s) AND NOT src.relname = ANY(%s)
        ORDER BY 1, 2
        """,
        (tables, tables),
    )
    assert offenders == [], "\n".join(f"{t}: {d}" for t, _, d in offenders)
