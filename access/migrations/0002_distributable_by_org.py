"""Access rules distributable by org_id (tenants.distribution): unique rules and the primary
key include org_id."""

from django.conf import settings
from django.db import migrations, models

from tenants.distribution import OrgPrimaryKey


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("tenants", "0004_project_ref_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="accessrule",
            name="accessrule_unique_resource",
        ),
        migrations.RemoveConstraint(
            model_name="accessrule",
            name="accessrule_unique_channel",
        ),
        migrations.AddConstraint(
            model_name="accessrule",
            constraint=models.UniqueConstraint(
                condition=models.Q(("resource_id__isnull", False)),
                fields=("org", "project", "resource_id", "operation", "client_role"),
                name="accessrule_unique_resource",
            ),
        ),
        migrations.AddConstraint(
            model_name="accessrule",
            constraint=models.UniqueConstraint(
                condition=models.Q(("resource_type", "channel")),
                fields=("org", "project", "channel", "operation", "client_role"),
                name="accessrule_unique_channel",
            ),
        ),
        OrgPrimaryKey("access_accessrule"),
    ]
