"""Celery: deliver a webhook, retrying with exponential backoff until it succeeds or gives up."""

from celery import shared_task
from django.conf import settings

from compute import services
from compute.constants import DeliveryStatus


@shared_task(bind=True, max_retries=None, time_limit=60, acks_late=True)
def deliver_webhook(self, delivery_id: str, org_id: str) -> str:
    delivery = services.delivery_attempt(delivery_id=delivery_id, org_id=org_id)
    if delivery.status == DeliveryStatus.RETRYING:
        countdown = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        raise self.retry(countdown=countdown)
    return delivery.status


@shared_task(name="compute.run_scheduled_job", time_limit=60)
def run_scheduled_job(job_id: str, org_id: str) -> bool | None:
    run = services.job_run(job_id=job_id, org_id=org_id)
    return None if run is None else run.succeeded
