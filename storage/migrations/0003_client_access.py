"""Client apps' files: the end user who uploaded an object, and the client policies.

A client app (anon, an end user, the secret key) sees its project's buckets and reads and
writes objects under the project's access rules for the bucket (``access.policies``). The
guard trigger takes the object's org from its bucket, fills ``end_user_id`` from the
transaction's context on a client app's insert, whatever the statement said, and keeps it,
the bucket and the org from changing afterwards (except ``end_user_id`` to NULL when the end
user is deleted).
"""

import django.db.models.deletion
from django.db import migrations, models

from access.policies import client_policies, drop_client_policies
from tenants.rls import CLIENT_PROJECT, CLIENT_ROLE

GUARD_SQL = """
CREATE OR REPLACE FUNCTION storage_object_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    bucket_org uuid;
    client text := app_client_role();
BEGIN
    IF TG_OP = 'UPDATE' AND (
        NEW.org_id IS DISTINCT FROM OLD.org_id
        OR NEW.bucket_id IS DISTINCT FROM OLD.bucket_id
        OR (NEW.end_user_id IS DISTINCT FROM OLD.end_user_id AND NEW.end_user_id IS NOT NULL)
    ) THEN
        RAISE EXCEPTION 'an object cannot move to another org, bucket or end user'
            USING ERRCODE = '42501';
    END IF;
    IF client IS NOT NULL THEN
        IF TG_OP = 'INSERT' THEN
            -- A client app's object is the signed-in end user's (anon, secret key: nobody's).
            NEW.end_user_id := CASE WHEN client = 'authenticated' THEN app_current_end_user() END;
        END IF;
        NEW.owner_id := CASE WHEN TG_OP = 'UPDATE' THEN OLD.owner_id END;
        -- Read under the writer's own row-level security: another project's bucket is not there.
        SELECT b.org_id INTO bucket_org FROM storage_bucket b WHERE b.id = NEW.bucket_id;
        IF bucket_org IS NULL OR bucket_org <> NEW.org_id THEN
            RAISE EXCEPTION 'the object does not belong to its bucket''s org'
                USING ERRCODE = '42501';
        END IF;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS storage_object_guard ON storage_storedobject;
CREATE TRIGGER storage_object_guard BEFORE INSERT OR UPDATE ON storage_storedobject
    FOR EACH ROW EXECUTE FUNCTION storage_object_guard();
"""
DROP_GUARD_SQL = """
DROP TRIGGER IF EXISTS storage_object_guard ON storage_storedobject;
DROP FUNCTION IF EXISTS storage_object_guard();
"""
FK_SQL = (
    "ALTER TABLE storage_storedobject ADD CONSTRAINT storage_object_end_user_fk "
    "FOREIGN KEY (end_user_id) REFERENCES endusers_enduser (id) ON DELETE SET NULL "
    "DEFERRABLE INITIALLY DEFERRED"
)
OBJECT_POLICIES = client_policies(
    "storage_storedobject",
    resource="bucket_id",
    project_scope=(
        f"bucket_id IN (SELECT b.id FROM storage_bucket b WHERE b.project_id = {CLIENT_PROJECT})"
    ),
    data=None,
)
BUCKET_POLICY = (
    "CREATE POLICY client_select ON storage_bucket FOR SELECT USING "
    f"({CLIENT_ROLE} IS NOT NULL AND project_id = {CLIENT_PROJECT})"
)


class Migration(migrations.Migration):
    dependencies = [
        ("storage", "0002_bucket_inline_delivery"),
        ("endusers", "0001_initial"),
        ("access", "0001_initial"),
        ("tenants", "0004_project_ref_api_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="storedobject",
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
        migrations.RunSQL(GUARD_SQL, DROP_GUARD_SQL),
        migrations.RunSQL(
            FK_SQL,
            "ALTER TABLE storage_storedobject DROP CONSTRAINT IF EXISTS storage_object_end_user_fk",
        ),
        migrations.RunSQL(
            [BUCKET_POLICY, *OBJECT_POLICIES],
            [
                "DROP POLICY IF EXISTS client_select ON storage_bucket",
                *drop_client_policies("storage_storedobject"),
            ],
        ),
    ]
