from django.db import migrations

from tenants.rls import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_initial"), ("tenants", "0002_row_level_security")]

    # A NULL org (platform rules, alerts, channels) only matches the platform admin context.
    operations = [
        EnableRLS("observability_alertchannel"),
        EnableRLS("observability_alertrule"),
        EnableRLS("observability_alert"),
        EnableRLS("observability_alertdelivery"),
    ]
