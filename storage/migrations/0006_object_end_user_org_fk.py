"""The object -> end user foreign key, composite: (org_id, end_user_id) -> (org_id, id). The
database still sets only end_user_id NULL when the end user is deleted, never org_id."""

from django.db import migrations

from tenants.distribution import OrgForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("storage", "0005_distributable_by_org"),
        ("endusers", "0002_distributable_by_org"),
    ]

    operations = [
        OrgForeignKey("storage_storedobject", "end_user_id", "endusers_enduser", set_null=True),
    ]
