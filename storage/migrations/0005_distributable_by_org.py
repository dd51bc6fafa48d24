"""Buckets and objects distributable by org_id (tenants.distribution): primary keys, unique
constraints and the object -> bucket foreign key include org_id. The object -> end user key is
dropped here and comes back composite in 0006, after the end users' primary key."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from tenants.distribution import OrgForeignKey, OrgPrimaryKey


class Migration(migrations.Migration):
    dependencies = [
        ("storage", "0004_client_bucket_management"),
        ("tenants", "0004_project_ref_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="bucket",
            name="bucket_unique_project_name",
        ),
        migrations.RemoveConstraint(
            model_name="storedobject",
            name="object_unique_bucket_key",
        ),
        migrations.AlterField(
            model_name="storedobject",
            name="bucket",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="stored_objects",
                to="storage.bucket",
            ),
        ),
        migrations.AddConstraint(
            model_name="bucket",
            constraint=models.UniqueConstraint(
                fields=("org", "project", "name"), name="bucket_unique_project_name"
            ),
        ),
        migrations.AddConstraint(
            model_name="storedobject",
            constraint=models.UniqueConstraint(
                fields=("org", "bucket", "key"), name="object_unique_bucket_key"
            ),
        ),
        migrations.RunSQL(
            "ALTER TABLE storage_storedobject DROP CONSTRAINT storage_object_end_user_fk",
            "ALTER TABLE storage_storedobject ADD CONSTRAINT storage_object_end_user_fk "
            "FOREIGN KEY (end_user_id) REFERENCES endusers_enduser (id) ON DELETE SET NULL "
            "DEFERRABLE INITIALLY DEFERRED",
        ),
        OrgPrimaryKey("storage_bucket"),
        OrgPrimaryKey("storage_storedobject"),
        OrgForeignKey("storage_storedobject", "bucket_id", "storage_bucket"),
    ]
