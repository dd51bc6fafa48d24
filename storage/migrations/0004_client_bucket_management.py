"""The project's secret key manages its project's buckets (create, change, delete), as the
Supabase Storage API lets the service role; anon and end users still only read them."""

from django.db import migrations

from tenants.rls import CLIENT_PROJECT, CLIENT_ROLE

SERVICE = f"({CLIENT_ROLE} = 'service_role' AND project_id = {CLIENT_PROJECT})"


class Migration(migrations.Migration):
    dependencies = [("storage", "0003_client_access")]

    operations = [
        migrations.RunSQL(
            f"CREATE POLICY client_service ON storage_bucket USING ({SERVICE})"
            f" WITH CHECK ({SERVICE})",
            "DROP POLICY IF EXISTS client_service ON storage_bucket",
        ),
    ]
