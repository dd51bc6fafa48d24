"""Celery: deliver a webhook, retrying with exponential backoff until it succeeds or gives up;
run a scheduled job. Both wait for their project's turn first (``outbound.fairness``)."""

from celery import shared_task
from django.conf import settings

from compute import services
from compute.constants import DeliveryStatus
from outbound import fairness


def _turn(task, project_id: str | None) -> float:
    """Seconds to wait for the project's turn. Tasks queued before they carried the project,
    and tasks run in place (``apply()``: no queue to share), go at once."""
    if not project_id or task.request.is_eager:
        return 0.0
    return fairness.delay_for(project_id)


@shared_task(bind=True, max_retries=None, time_limit=60, acks_late=True)
def deliver_webhook(self, delivery_id: str, org_id: str, project_id: str | None = None) -> str:
    if (wait := _turn(self, project_id)) > 0:
        raise self.retry(countdown=wait)
    delivery = services.delivery_attempt(delivery_id=delivery_id, org_id=org_id)
    if delivery is None:
        return "gone"
    if delivery.status == DeliveryStatus.RETRYING:
        countdown = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        raise self.retry(countdown=countdown)
    return delivery.status


@shared_task(bind=True, name="compute.run_scheduled_job", max_retries=None, time_limit=60)
def run_scheduled_job(self, job_id: str, org_id: str, project_id: str | None = None) -> bool | None:
    if (wait := _turn(self, project_id)) > 0:
        raise self.retry(countdown=wait)
    run = services.job_run(job_id=job_id, org_id=org_id)
    return None if run is None else run.succeeded
