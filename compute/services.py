"""Webhooks: define them per project, queue a delivery per matching record change, deliver.

Scheduled jobs (``job_*``) use the same signed POST on a cron schedule kept in
django-celery-beat.

A delivery is a signed POST (HMAC-SHA256 over ``"<timestamp>.<body>"`` with the webhook's
secret, the same scheme as the alert webhooks) carrying the write's ``X-Request-ID`` and, when
tracing is on, ``traceparent``. Non-2xx answers and network errors are retried by the Celery
task with exponential backoff up to ``WEBHOOK_MAX_ATTEMPTS``; every attempt is recorded.
"""

import json
import secrets
import time
from dataclasses import dataclass

import httpx
import structlog
from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from compute.constants import EVENTS, DeliveryStatus
from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery
from compute.selectors import webhooks_for_change
from datastore.models import Collection
from observability.notify import outgoing_headers, sign
from platform_site.errors import unique_violation_is_invalid
from tenants import constants
from tenants.context import TenantContext, tenant_context
from tenants.permissions import has_org_perm

logger = structlog.get_logger(__name__)


def _require(membership) -> None:
    if not has_org_perm(membership, constants.MANAGE_SCHEMA):
        raise PermissionDenied("Your role does not allow managing webhooks.")


def _clean_url(url: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise ValidationError({"url": "An http(s) URL."})


def _clean(*, events: list[str], url: str) -> None:
    if not events or any(event not in EVENTS for event in events):
        raise ValidationError({"events": f"A non-empty list of {', '.join(EVENTS)}."})
    _clean_url(url)


@transaction.atomic
def webhook_create(
    *, membership, project, url: str, events: list[str], collection: str = ""
) -> Webhook:
    _require(membership)
    _clean(events=events, url=url)
    return Webhook.objects.create(
        org=membership.org,
        project=project,
        collection=collection,
        events=sorted(set(events)),
        url=url,
        secret=secrets.token_hex(32),
        created_by=membership.user,
    )


@transaction.atomic
def webhook_update(*, membership, webhook: Webhook, **fields) -> Webhook:
    _require(membership)
    for name in ("url", "events", "collection", "active"):
        if name in fields:
            setattr(webhook, name, fields[name])
    _clean(events=webhook.events, url=webhook.url)
    webhook.events = sorted(set(webhook.events))
    webhook.save()
    return webhook


@transaction.atomic
def webhook_delete(*, membership, webhook: Webhook) -> None:
    _require(membership)
    webhook.delete()


def deliveries_queue(
    *, org_id, project_id, collection_id, record_id, owner_id, event: str, data, request_id: str
) -> list[WebhookDelivery]:
    """Called after a record write commits: one delivery per matching webhook, then enqueue.

    Runs outside the write's transaction (on_commit), so it opens its own, in the org's context.
    """
    with tenant_context(TenantContext(org_id=org_id)):
        collection = Collection.objects.filter(pk=collection_id).values_list("name", flat=True)
        name = collection.first() or ""
        hooks = webhooks_for_change(project_id=project_id, collection=name, event=event)
        payload = {
            "type": event,
            "org_id": str(org_id),
            "project_id": str(project_id),
            "collection": name,
            "record": {"id": str(record_id), "owner_id": owner_id, "data": data},
            "occurred_at": timezone.now().isoformat(),
        }
        deliveries = [
            WebhookDelivery.objects.create(
                org_id=org_id, webhook=hook, event=event, payload=payload, request_id=request_id
            )
            for hook in hooks
        ]
        for delivery in deliveries:
            transaction.on_commit(lambda d=delivery: _enqueue(d.pk, org_id), robust=True)
    return deliveries


def _enqueue(delivery_id, org_id) -> None:
    from compute.tasks import deliver_webhook

    deliver_webhook.delay(str(delivery_id), str(org_id))


@dataclass(frozen=True)
class PostOutcome:
    ok: bool
    status: int | None
    error: str
    duration_ms: float


def signed_post(*, url: str, secret: str, payload: dict, headers: dict) -> PostOutcome:
    """POST ``payload`` as JSON, signed with ``secret``; 2xx is success, anything else is not."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    all_headers = {
        **outgoing_headers(),
        "Content-Type": "application/json",
        "User-Agent": "platform-webhooks/1",
        "X-Platform-Timestamp": timestamp,
        "X-Platform-Signature": sign(secret, timestamp, body),
        **headers,
    }
    started = time.perf_counter()
    try:
        response = httpx.post(
            url, content=body, headers=all_headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        return PostOutcome(False, None, error, (time.perf_counter() - started) * 1000)
    ok = 200 <= response.status_code < 300
    return PostOutcome(
        ok,
        response.status_code,
        "" if ok else f"HTTP {response.status_code}",
        (time.perf_counter() - started) * 1000,
    )


def delivery_attempt(*, delivery_id, org_id) -> WebhookDelivery:
    """POST one delivery once and record the outcome; the caller decides about retrying."""
    with tenant_context(TenantContext(org_id=org_id)):
        delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
        if delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
            return delivery
        delivery.attempts += 1
        outcome = signed_post(
            url=delivery.webhook.url,
            secret=delivery.webhook.secret,
            payload=delivery.payload,
            headers={
                "X-Platform-Webhook-Id": str(delivery.webhook_id),
                "X-Platform-Delivery-Id": str(delivery.pk),
                "X-Platform-Event": delivery.event,
                **({"X-Request-ID": delivery.request_id} if delivery.request_id else {}),
            },
        )
        ok = outcome.ok
        delivery.response_status = outcome.status
        delivery.last_error = outcome.error
        if ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = timezone.now()
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.status = DeliveryStatus.RETRYING
        delivery.save()
        logger.info(
            "webhook_delivery_attempt",
            delivery_id=str(delivery.pk),
            webhook_id=str(delivery.webhook_id),
            status=delivery.status,
            response_status=delivery.response_status,
            attempt=delivery.attempts,
        )
        return delivery


# --- scheduled jobs ---------------------------------------------------------------------------
JOB_TASK = "compute.run_scheduled_job"


def _crontab_fields(schedule: str) -> dict:
    fields = schedule.split()
    if len(fields) != 5:
        raise ValidationError({"schedule": "Five cron fields: minute hour day month weekday."})
    names = ["minute", "hour", "day_of_month", "month_of_year", "day_of_week"]
    values = dict(zip(names, fields, strict=True))
    try:
        crontab(**values)  # celery's own parser: what beat will run is what we accept
    except (ValueError, TypeError) as exc:
        raise ValidationError({"schedule": f"Not a valid cron expression: {exc}"}) from exc
    return values


def _sync_periodic_task(job: ScheduledJob) -> None:
    schedule, _ = CrontabSchedule.objects.get_or_create(
        **_crontab_fields(job.schedule), timezone="UTC"
    )
    task = job.periodic_task or PeriodicTask(name=f"job:{job.pk}", task=JOB_TASK)
    task.crontab = schedule
    task.args = json.dumps([str(job.pk), str(job.org_id)])
    task.enabled = job.enabled
    task.save()
    if job.periodic_task_id != task.pk:
        job.periodic_task = task
        job.save(update_fields=["periodic_task"])


JOB_NAME_TAKEN = "A job with this name already exists."


@transaction.atomic
def job_create(
    *, membership, project, name: str, schedule: str, url: str, payload: dict | None = None,
    enabled: bool = True,
) -> ScheduledJob:  # fmt: skip
    _require(membership)
    _crontab_fields(schedule)
    _clean_url(url)
    if ScheduledJob.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": JOB_NAME_TAKEN})
    with unique_violation_is_invalid("name", JOB_NAME_TAKEN):  # a concurrent create
        job = ScheduledJob.objects.create(
            org=membership.org,
            project=project,
            name=name,
            schedule=schedule,
            url=url,
            payload=payload or {},
            secret=secrets.token_hex(32),
            enabled=enabled,
            created_by=membership.user,
        )
    _sync_periodic_task(job)
    return job


@transaction.atomic
def job_update(*, membership, job: ScheduledJob, **fields) -> ScheduledJob:
    _require(membership)
    for name in ("name", "schedule", "url", "payload", "enabled"):
        if name in fields:
            setattr(job, name, fields[name])
    _crontab_fields(job.schedule)
    _clean_url(job.url)
    with unique_violation_is_invalid("name", JOB_NAME_TAKEN):  # renamed to a taken name
        job.save()
    _sync_periodic_task(job)
    return job


@transaction.atomic
def job_delete(*, membership, job: ScheduledJob) -> None:
    _require(membership)
    if job.periodic_task_id:
        PeriodicTask.objects.filter(pk=job.periodic_task_id).delete()
    job.delete()


def job_run_now(*, membership, job: ScheduledJob) -> None:
    _require(membership)
    from compute.tasks import run_scheduled_job

    org_id = job.org_id
    transaction.on_commit(lambda: run_scheduled_job.delay(str(job.pk), str(org_id)))


def job_run(*, job_id, org_id) -> JobRun | None:
    """One run of a job (from beat or "run now"); None when the job is gone or disabled."""
    with tenant_context(TenantContext(org_id=org_id)):
        job = ScheduledJob.objects.filter(pk=job_id, enabled=True).first()
        if job is None:
            return None
        outcome = signed_post(
            url=job.url,
            secret=job.secret,
            payload={
                "type": "scheduled",
                "job": {"id": str(job.pk), "name": job.name, "schedule": job.schedule},
                "org_id": str(job.org_id),
                "project_id": str(job.project_id),
                "payload": job.payload,
                "scheduled_at": timezone.now().isoformat(),
            },
            headers={"X-Platform-Event": "scheduled", "X-Platform-Job-Id": str(job.pk)},
        )
        run = JobRun.objects.create(
            org_id=job.org_id,
            job=job,
            succeeded=outcome.ok,
            response_status=outcome.status,
            error=outcome.error,
            duration_ms=round(outcome.duration_ms, 2),
        )
        logger.info(
            "scheduled_job_run",
            job_id=str(job.pk),
            succeeded=outcome.ok,
            response_status=outcome.status,
        )
        return run
