from django.db import migrations

from tenants.rls import (
    CURRENT_ORG,
    CURRENT_USER,
    DROP_FUNCTIONS_SQL,
    FUNCTIONS_SQL,
    PLATFORM_ADMIN,
    EnableRLS,
    org_policy,
)
from tenants.roles import ensure_app_role


def create_app_role(apps, schema_editor):
    ensure_app_role(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.RunPython(create_app_role, migrations.RunPython.noop),
        migrations.RunSQL(FUNCTIONS_SQL, DROP_FUNCTIONS_SQL),
        EnableRLS("tenants_project"),
        # A user sees their own memberships in every org (to list their orgs) and every
        # membership of the org in context; writes only ever go into the org in context.
        EnableRLS(
            "tenants_membership",
            using=f"(org_id = {CURRENT_ORG} OR user_id = {CURRENT_USER} OR {PLATFORM_ADMIN})",
            check=org_policy(),
        ),
        EnableRLS(
            "tenants_organization",
            using=(
                f"(id = {CURRENT_ORG} OR {PLATFORM_ADMIN} OR EXISTS (SELECT 1 FROM "
                "tenants_membership m WHERE m.org_id = tenants_organization.id "
                f"AND m.user_id = {CURRENT_USER}))"
            ),
            check=org_policy("id"),
        ),
    ]
