from django.db import migrations

from tenants.rls import CURRENT_ORG, CURRENT_USER, PLATFORM_ADMIN, EnableRLS


class Migration(migrations.Migration):
    dependencies = [("authn", "0001_initial"), ("tenants", "0002_row_level_security")]

    operations = [
        # Sessions are per user: a request sees its own user's sessions only.
        EnableRLS(
            "authn_session",
            using=f"(user_id = {CURRENT_USER} OR {PLATFORM_ADMIN})",
        ),
        # Audit rows: readable by their actor, by the org in context, by a platform admin;
        # writable with no org (account events) or into the org in context only.
        EnableRLS(
            "authn_auditevent",
            using=f"(actor_id = {CURRENT_USER} OR org_id = {CURRENT_ORG} OR {PLATFORM_ADMIN})",
            check=f"(org_id IS NULL OR org_id = {CURRENT_ORG} OR {PLATFORM_ADMIN})",
        ),
    ]
