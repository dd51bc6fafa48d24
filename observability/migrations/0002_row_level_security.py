from django.db import migrations

from tenants.rls import CURRENT_ORG, PLATFORM_ADMIN, EnableRLS, org_policy


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_initial"), ("tenants", "0002_row_level_security")]

    # A NULL org (platform rules, alerts, channels) only matches the platform admin context.
    operations = [
        EnableRLS("observability_alertchannel"),
        # Platform rules (name, runbook) are readable by every org, writable by none.
        EnableRLS(
            "observability_alertrule",
            using=f"(org_id IS NULL OR org_id = {CURRENT_ORG} OR {PLATFORM_ADMIN})",
            check=org_policy(),
        ),
        EnableRLS("observability_alert"),
        EnableRLS("observability_alertdelivery"),
    ]
