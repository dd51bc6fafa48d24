"""Row-level security building blocks.

A tenant table gets its policy with one line in a migration::

    operations = [EnableRLS("datastore_record")]

The policy compares the row's org column with ``app_current_org()``, a SQL function reading
the transaction-local ``app.org_id`` setting that ``tenants.context`` sets. RLS is both
ENABLED and FORCED, so even the owning role is filtered unless it sets ``row_security = off``
(which only backups do, as the owner).

Two kinds of callers, kept apart by the database:

* developers (org members) and platform staff: ``app_current_org()``, ``app_current_user()``,
  ``app_current_role()``, ``app_is_platform_admin()``;
* client apps of one project (``app.client_role`` = ``anon``, ``authenticated`` or
  ``service_role``): ``app_current_org()`` and ``app_is_platform_admin()`` are NULL/false for
  them whatever else is set, so no developer policy ever opens to a client app. Their policies
  are separate (``client_policy``) and read ``app_current_project()``,
  ``app_current_end_user()``, ``app_client_role()``, ``app_end_user_roles()`` and the
  project's access rules (``access_accessrule``).

Client policies call the settings as ``(SELECT app_...())``, so PostgreSQL evaluates each once
per statement (an InitPlan) rather than once per row.
"""

from django.db import migrations

CURRENT_ORG = "app_current_org()"
CURRENT_USER = "app_current_user()"
PLATFORM_ADMIN = "app_is_platform_admin()"
# Client-app settings, each evaluated once per statement.
CLIENT_ROLE = "(SELECT app_client_role())"
CLIENT_PROJECT = "(SELECT app_current_project())"
CLIENT_END_USER = "(SELECT app_current_end_user())"
CLIENT_APP_ROLES = "(SELECT app_end_user_roles())::text[]"

FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION app_client_role() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.client_role', true), '') $$;
CREATE OR REPLACE FUNCTION app_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN coalesce(current_setting('app.client_role', true), '') = ''
                 THEN NULLIF(current_setting('app.org_id', true), '')::uuid END $$;
CREATE OR REPLACE FUNCTION app_current_project() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.project_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_current_end_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.end_user_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_end_user_roles() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(NULLIF(current_setting('app.end_user_roles', true), '')::text[],
                          '{}'::text[]) $$;
CREATE OR REPLACE FUNCTION app_current_user() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION app_current_role() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.role', true), '') $$;
CREATE OR REPLACE FUNCTION app_is_platform_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('app.platform_admin', true), '') = 'on'
                 AND coalesce(current_setting('app.client_role', true), '') = '' $$;
"""
DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS app_current_org();
DROP FUNCTION IF EXISTS app_current_user();
DROP FUNCTION IF EXISTS app_current_role();
DROP FUNCTION IF EXISTS app_is_platform_admin();
DROP FUNCTION IF EXISTS app_client_role();
DROP FUNCTION IF EXISTS app_current_project();
DROP FUNCTION IF EXISTS app_current_end_user();
DROP FUNCTION IF EXISTS app_end_user_roles();
"""


def org_policy(org_column: str = "org_id") -> str:
    """The standard predicate: the row belongs to the transaction's org (or a platform admin)."""
    return f"({org_column} = {CURRENT_ORG} OR {PLATFORM_ADMIN})"


class EnableRLS(migrations.RunSQL):
    """Enable and force RLS on ``table`` with a single ``tenant_isolation`` policy.

    ``using`` filters visible rows; ``check`` (defaults to ``using``) guards INSERT/UPDATE so
    a row can never be written into, or moved to, another org.
    """

    def __init__(
        self,
        table: str,
        *,
        using: str | None = None,
        check: str | None = None,
        policy: str = "tenant_isolation",
    ):
        using = using or org_policy()
        check = check or using
        sql = [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {policy} ON {table}",
            f"CREATE POLICY {policy} ON {table} USING ({using}) WITH CHECK ({check})",
        ]
        reverse = [
            f"DROP POLICY IF EXISTS {policy} ON {table}",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ]
        super().__init__(sql=sql, reverse_sql=reverse)
        self.table = table

    def describe(self) -> str:
        return f"Enable row-level security on {self.table}"
