"""Webhooks and scheduled jobs distributable by org_id (tenants.distribution): primary keys,
unique constraints and the foreign keys between them include org_id; a job's beat entry is a
foreign key unique per org."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from tenants.distribution import OrgForeignKey, OrgPrimaryKey


class Migration(migrations.Migration):
    dependencies = [
        ("compute", "0003_job_target"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("tenants", "0004_project_ref_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="scheduledjob",
            name="job_unique_project_name",
        ),
        migrations.AlterField(
            model_name="jobrun",
            name="job",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="runs",
                to="compute.scheduledjob",
            ),
        ),
        migrations.AlterField(
            model_name="scheduledjob",
            name="periodic_task",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="django_celery_beat.periodictask",
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="webhook",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="compute.webhook",
            ),
        ),
        migrations.AddConstraint(
            model_name="scheduledjob",
            constraint=models.UniqueConstraint(
                fields=("org", "project", "name"), name="job_unique_project_name"
            ),
        ),
        migrations.AddConstraint(
            model_name="scheduledjob",
            constraint=models.UniqueConstraint(
                fields=("org", "periodic_task"), name="job_unique_periodic_task"
            ),
        ),
        OrgPrimaryKey("compute_webhook"),
        OrgPrimaryKey("compute_webhookdelivery"),
        OrgPrimaryKey("compute_scheduledjob"),
        OrgPrimaryKey("compute_jobrun"),
        OrgForeignKey("compute_webhookdelivery", "webhook_id", "compute_webhook"),
        OrgForeignKey("compute_jobrun", "job_id", "compute_scheduledjob"),
    ]
