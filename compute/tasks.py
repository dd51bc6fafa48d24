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
