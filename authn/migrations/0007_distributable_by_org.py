"""Sessions (a platform table) keep no database constraint into end users (a tenant table,
distributed by org_id on Citus); Django still deletes an end user's sessions."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("authn", "0006_storage_audit_actions"),
        ("endusers", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="session",
            name="end_user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sessions",
                to="endusers.enduser",
            ),
        ),
    ]
