"""Scheduled data maintenance (Celery beat, schedule stored by django-celery-beat)."""

from celery import shared_task

from datastore import backups


@shared_task(
    name="datastore.backup",
    acks_late=True,
    autoretry_for=(backups.BackupError,),
    retry_backoff=300,
    max_retries=2,
    time_limit=3600,
)
def backup() -> int:
    """One verified backup; a failed one is recorded as a BackupRun and retried later."""
    return backups.backup_run().pk
