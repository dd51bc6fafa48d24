"""Collections and records distributable by org_id (tenants.distribution): primary keys, unique
constraints and the record -> collection foreign key include org_id. The record -> end user
key is dropped here and comes back composite in 0005, after the end users' primary key."""

import django.db.models.deletion
from django.db import migrations, models

from tenants.distribution import OrgForeignKey, OrgPrimaryKey


class Migration(migrations.Migration):
    dependencies = [
        ("datastore", "0003_client_access"),
        ("tenants", "0004_project_ref_api_keys"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="collection",
            name="collection_unique_project_name",
        ),
        migrations.AlterField(
            model_name="record",
            name="collection",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="records",
                to="datastore.collection",
            ),
        ),
        migrations.AddConstraint(
            model_name="collection",
            constraint=models.UniqueConstraint(
                fields=("org", "project", "store", "name"), name="collection_unique_project_name"
            ),
        ),
        migrations.RunSQL(
            "ALTER TABLE datastore_record DROP CONSTRAINT datastore_record_end_user_fk",
            "ALTER TABLE datastore_record ADD CONSTRAINT datastore_record_end_user_fk "
            "FOREIGN KEY (end_user_id) REFERENCES endusers_enduser (id) ON DELETE SET NULL "
            "DEFERRABLE INITIALLY DEFERRED",
        ),
        OrgPrimaryKey("datastore_collection"),
        OrgPrimaryKey("datastore_record"),
        OrgForeignKey("datastore_record", "collection_id", "datastore_collection"),
    ]
