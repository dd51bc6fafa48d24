"""Scheduled data maintenance (Celery beat, schedule stored by django-celery-beat)."""

from celery import shared_task

from datastore import backups


@shared_task(name="datastore.backup", acks_late=True, max_retries=2, time_limit=3600)
def backup() -> int:
    return backups.backup_run().pk
