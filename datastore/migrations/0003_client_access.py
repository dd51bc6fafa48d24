"""Client apps' records: the end user who wrote a row, and the client policies.

A client app (anon, an end user, the secret key) reads a project's collections and writes
records under the project's access rules (``access.policies``). The guard trigger fills
``end_user_id`` from the transaction's context on a client app's insert, whatever the body
said, and keeps it from changing afterwards (except to NULL when the end user is deleted).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from access.policies import client_policies, drop_client_policies
from tenants.rls import CLIENT_PROJECT, CLIENT_ROLE

GUARD_SQL = """
CREATE OR REPLACE FUNCTION datastore_record_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    rule text;
    coll_org uuid;
    coll_project uuid;
    client text := app_client_role();
BEGIN
    IF TG_OP = 'UPDATE' AND (
        NEW.org_id IS DISTINCT FROM OLD.org_id
        OR NEW.owner_id IS DISTINCT FROM OLD.owner_id
        OR (NEW.end_user_id IS DISTINCT FROM OLD.end_user_id AND NEW.end_user_id IS NOT NULL)
        OR NEW.project_id IS DISTINCT FROM OLD.project_id
        OR NEW.collection_id IS DISTINCT FROM OLD.collection_id
    ) THEN
        RAISE EXCEPTION 'a record cannot move to another org, project, collection or owner'
            USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'INSERT' AND client IS NOT NULL THEN
        -- A client app's row is the signed-in end user's (anon and the secret key: nobody's).
        NEW.end_user_id := CASE WHEN client = 'authenticated' THEN app_current_end_user() END;
        NEW.owner_id := NULL;
    END IF;
    -- Read under the writer's own row-level security: another org's collection is invisible.
    SELECT c.access, c.org_id, c.project_id INTO rule, coll_org, coll_project
        FROM datastore_collection c WHERE c.id = NEW.collection_id;
    IF rule IS NULL OR coll_org <> NEW.org_id OR coll_project <> NEW.project_id THEN
        RAISE EXCEPTION 'the record does not belong to its collection''s org and project'
            USING ERRCODE = '42501';
    END IF;
    NEW.owner_only := (rule = 'owner');
    RETURN NEW;
END $$;
"""
FK_SQL = (
    "ALTER TABLE datastore_record ADD CONSTRAINT datastore_record_end_user_fk "
    "FOREIGN KEY (end_user_id) REFERENCES endusers_enduser (id) ON DELETE SET NULL "
    "DEFERRABLE INITIALLY DEFERRED"
)
RECORD_POLICIES = client_policies(
    "datastore_record",
    resource="collection_id",
    project_scope=f"project_id = {CLIENT_PROJECT}",
    data="data",
)
COLLECTION_POLICY = (
    "CREATE POLICY client_select ON datastore_collection FOR SELECT USING "
    f"({CLIENT_ROLE} IS NOT NULL AND project_id = {CLIENT_PROJECT})"
)


class Migration(migrations.Migration):
    dependencies = [
        ("datastore", "0002_row_level_security"),
        ("endusers", "0001_initial"),
        ("tenants", "0004_project_ref_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="record",
            name="end_user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="endusers.enduser",
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="owner",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="record",
            index=models.Index(
                condition=models.Q(("end_user__isnull", False)),
                fields=["collection", "end_user", "created_at", "id"],
                name="record_coll_enduser",
            ),
        ),
        migrations.RunSQL(GUARD_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(
            FK_SQL,
            "ALTER TABLE datastore_record DROP CONSTRAINT IF EXISTS datastore_record_end_user_fk",
        ),
        migrations.RunSQL(
            [COLLECTION_POLICY, *RECORD_POLICIES],
            [
                "DROP POLICY IF EXISTS client_select ON datastore_collection",
                *drop_client_policies("datastore_record"),
            ],
        ),
    ]
