"""Row-level security on collections and records.

Records: the org must match, and in an owner-only collection the owner must be the current
user unless the role is owner or admin of the org. ``owner_only`` is copied from the
collection by a trigger (the client cannot choose it), and an UPDATE can never move a row to
another org, project, collection or owner.
"""

from django.db import migrations

from tenants.rls import CURRENT_ORG, CURRENT_USER, PLATFORM_ADMIN, EnableRLS

RECORD_POLICY = (
    f"((org_id = {CURRENT_ORG} AND (NOT owner_only OR owner_id = {CURRENT_USER}"
    " OR app_current_role() IN ('owner', 'admin'))) OR "
    f"{PLATFORM_ADMIN})"
)

GUARD_SQL = """
CREATE OR REPLACE FUNCTION datastore_record_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    rule text;
    coll_org uuid;
    coll_project uuid;
BEGIN
    IF TG_OP = 'UPDATE' AND (
        NEW.org_id IS DISTINCT FROM OLD.org_id
        OR NEW.owner_id IS DISTINCT FROM OLD.owner_id
        OR NEW.project_id IS DISTINCT FROM OLD.project_id
        OR NEW.collection_id IS DISTINCT FROM OLD.collection_id
    ) THEN
        RAISE EXCEPTION 'a record cannot move to another org, project, collection or owner'
            USING ERRCODE = '42501';
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
CREATE TRIGGER datastore_record_guard BEFORE INSERT OR UPDATE ON datastore_record
    FOR EACH ROW EXECUTE FUNCTION datastore_record_guard();
"""
DROP_GUARD_SQL = """
DROP TRIGGER IF EXISTS datastore_record_guard ON datastore_record;
DROP FUNCTION IF EXISTS datastore_record_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("datastore", "0001_initial"), ("tenants", "0002_row_level_security")]

    operations = [
        EnableRLS("datastore_collection"),
        EnableRLS("datastore_record", using=RECORD_POLICY),
        migrations.RunSQL(GUARD_SQL, DROP_GUARD_SQL),
        # Containment filters (``contains``) on any field.
        migrations.RunSQL(
            "CREATE INDEX record_data_gin ON datastore_record USING gin (data jsonb_path_ops)",
            "DROP INDEX IF EXISTS record_data_gin",
        ),
    ]
