"""Functions distributable by org_id (tenants.distribution): primary keys, unique constraints and
the foreign keys between functions, versions and invocations include org_id."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from tenants.distribution import OrgForeignKey, OrgPrimaryKey


class Migration(migrations.Migration):
    dependencies = [
        ("functions", "0002_egress_hosts"),
        ("tenants", "0004_project_ref_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="function",
            name="function_unique_name",
        ),
        migrations.RemoveConstraint(
            model_name="functionversion",
            name="version_unique_number",
        ),
        migrations.RemoveConstraint(
            model_name="functionversion",
            name="version_unique_content",
        ),
        migrations.AlterField(
            model_name="function",
            name="active_version",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="functions.functionversion",
            ),
        ),
        migrations.AlterField(
            model_name="functionversion",
            name="function",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="versions",
                to="functions.function",
            ),
        ),
        migrations.AlterField(
            model_name="invocation",
            name="function",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="invocations",
                to="functions.function",
            ),
        ),
        migrations.AlterField(
            model_name="invocation",
            name="version",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="functions.functionversion",
            ),
        ),
        migrations.AddConstraint(
            model_name="function",
            constraint=models.UniqueConstraint(
                fields=("org", "project", "name"), name="function_unique_name"
            ),
        ),
        migrations.AddConstraint(
            model_name="functionversion",
            constraint=models.UniqueConstraint(
                fields=("org", "function", "number"), name="version_unique_number"
            ),
        ),
        migrations.AddConstraint(
            model_name="functionversion",
            constraint=models.UniqueConstraint(
                fields=("org", "function", "source_hash"), name="version_unique_content"
            ),
        ),
        OrgPrimaryKey("functions_function"),
        OrgPrimaryKey("functions_functionversion"),
        OrgPrimaryKey("functions_invocation"),
        OrgForeignKey("functions_function", "active_version_id", "functions_functionversion"),
        OrgForeignKey("functions_functionversion", "function_id", "functions_function"),
        OrgForeignKey("functions_invocation", "function_id", "functions_function"),
        OrgForeignKey("functions_invocation", "version_id", "functions_functionversion"),
    ]
