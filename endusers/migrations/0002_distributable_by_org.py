"""End users distributable by org_id (tenants.distribution): the unique email per project and
the primary key include org_id. Runs after every single-column key into end users is gone."""

from django.db import migrations, models

from tenants.distribution import OrgPrimaryKey


class Migration(migrations.Migration):
    dependencies = [
        ("authn", "0007_distributable_by_org"),
        ("datastore", "0004_distributable_by_org"),
        ("storage", "0005_distributable_by_org"),
        ("endusers", "0001_initial"),
        ("tenants", "0004_project_ref_api_keys"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="enduser",
            name="enduser_unique_project_email",
        ),
        migrations.AddConstraint(
            model_name="enduser",
            constraint=models.UniqueConstraint(
                condition=models.Q(("email", ""), _negated=True),
                fields=("org", "project", "email"),
                name="enduser_unique_project_email",
            ),
        ),
        OrgPrimaryKey("endusers_enduser"),
    ]
