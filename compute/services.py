"""Webhooks: define them per project, queue a delivery per matching record change, deliver.

Scheduled jobs (``job_*``) use the same signed POST on a cron schedule kept in
django-celery-beat.

Every URL goes through ``outbound.destinations.check`` when it is registered, and every POST
through ``outbound.client.post`` (signed, checked again, after the transaction has closed).
A delivery reads its row in one transaction, sends with no connection held, and records the
outcome in a second one. Non-2xx answers, timeouts and refusals are retried by the Celery task
with exponential backoff up to ``WEBHOOK_MAX_ATTEMPTS``; every attempt is recorded.
"""

import json
import secrets
from dataclasses import dataclass

import structlog
from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from authn.audit import audit_org_write
from authn.constants import AuditAction
from compute.constants import EVENTS, DeliveryStatus, JobTarget
from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery
from compute.selectors import project_has_webhooks, webhooks_for_change
from datastore.models import Collection
from outbound import client, destinations
from platform_site.errors import unique_violation_is_invalid
from tenants import constants
from tenants.context import TenantContext, tenant_context
from tenants.permissions import require_org_perm

logger = structlog.get_logger(__name__)


def _clean_url(url: str) -> None:
    destinations.validate(url, field="url")


def _clean_events(events: list[str]) -> None:
    if not events or any(event not in EVENTS for event in events):
        raise ValidationError({"events": f"A non-empty list of {', '.join(EVENTS)}."})


def _clean_collection(project, collection: str) -> None:
    if collection and not Collection.objects.filter(project=project, name=collection).exists():
        raise ValidationError({"collection": "No collection of this name in the project."})


@transaction.atomic
def webhook_create(
    *, membership, project, url: str, events: list[str], collection: str = "", active: bool = True
) -> Webhook:
    require_org_perm(membership, constants.MANAGE_WEBHOOKS)
    _clean_events(events)
    _clean_collection(project, collection)
    _clean_url(url)
    webhook = Webhook.objects.create(
        org=membership.org,
        project=project,
        collection=collection,
        events=sorted(set(events)),
        url=url,
        secret=secrets.token_hex(32),
        active=active,
        created_by=membership.user,
    )
    audit_org_write(membership=membership, action=AuditAction.WEBHOOK_CREATE, target=webhook)
    return webhook


@transaction.atomic
def webhook_update(*, membership, webhook: Webhook, **fields) -> Webhook:
    require_org_perm(membership, constants.MANAGE_WEBHOOKS)
    # What is not changed is not checked again: a PATCH of "active" needs no DNS lookup.
    if "events" in fields:
        _clean_events(fields["events"])
    if "collection" in fields:
        _clean_collection(webhook.project, fields["collection"])
    if "url" in fields:
        _clean_url(fields["url"])
    for name in ("url", "events", "collection", "active"):
        if name in fields:
            setattr(webhook, name, fields[name])
    webhook.events = sorted(set(webhook.events))
    webhook.save()
    audit_org_write(
        membership=membership,
        action=AuditAction.WEBHOOK_UPDATE,
        target=webhook,
        metadata={"fields": sorted(fields)},
    )
    return webhook


@transaction.atomic
def webhook_delete(*, membership, webhook: Webhook) -> None:
    require_org_perm(membership, constants.MANAGE_WEBHOOKS)
    audit_org_write(membership=membership, action=AuditAction.WEBHOOK_DELETE, target=webhook)
    webhook.delete()


def deliveries_queue(
    *, org_id, project_id, collection_id, record_id, owner_id, event: str, data, request_id: str
) -> list[WebhookDelivery]:
    """Called after a record write commits: one delivery per matching webhook, then enqueue.

    Runs outside the write's transaction (on_commit), so it opens its own, in the org's context.
    """
    return deliveries_queue_many(
        org_id=org_id,
        project_id=project_id,
        collection_id=collection_id,
        owner_id=owner_id,
        event=event,
        records=[(record_id, data)],
        request_id=request_id,
    )


def deliveries_queue_many(
    *, org_id, project_id, collection_id, owner_id, event: str, records: list, request_id: str
) -> list[WebhookDelivery]:
    """``deliveries_queue`` for several records of one collection and owner (a bulk create):
    one transaction and one webhook lookup for all of them; ``records`` is a list of
    ``(record_id, data)``. A project without webhooks costs nothing more (a cached answer)."""
    if not project_has_webhooks(org_id=org_id, project_id=project_id):
        return []
    with tenant_context(TenantContext(org_id=org_id)):
        collection = Collection.objects.filter(pk=collection_id).values_list("name", flat=True)
        name = collection.first() or ""
        hooks = webhooks_for_change(project_id=project_id, collection=name, event=event)
        if not hooks:
            return []
        occurred_at = timezone.now().isoformat()
        deliveries = [
            WebhookDelivery.objects.create(
                org_id=org_id,
                webhook=hook,
                event=event,
                payload={
                    "type": event,
                    "org_id": str(org_id),
                    "project_id": str(project_id),
                    "collection": name,
                    "record": {"id": str(record_id), "owner_id": owner_id, "data": data},
                    "occurred_at": occurred_at,
                },
                request_id=request_id,
            )
            for record_id, data in records
            for hook in hooks
        ]
        for delivery in deliveries:
            transaction.on_commit(
                lambda d=delivery: _enqueue(d.pk, org_id, project_id), robust=True
            )
    return deliveries


def _enqueue(delivery_id, org_id, project_id) -> None:
    from compute.tasks import deliver_webhook

    deliver_webhook.delay(str(delivery_id), str(org_id), str(project_id))


@dataclass(frozen=True)
class _Post:
    """What a POST needs, read inside a transaction and sent after it."""

    url: str
    secret: str
    payload: dict
    headers: dict


def _post(post: _Post) -> client.Outcome:
    return client.post(
        post.url,
        post.payload,
        secret=post.secret,
        headers=post.headers,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )


def delivery_attempt(*, delivery_id, org_id) -> WebhookDelivery | None:
    """POST one delivery once and record the outcome; the caller decides about retrying.

    None when the delivery is gone (its webhook was deleted meanwhile).
    """
    with tenant_context(TenantContext(org_id=org_id)):
        delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
        if delivery is None or delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
            return delivery
        post = _Post(
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
    outcome = _post(post)
    with tenant_context(TenantContext(org_id=org_id)):
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.response_status = outcome.status
        delivery.last_error = outcome.summary
        if outcome.ok:
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
        result=outcome.result,
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
    task.args = json.dumps([str(job.pk), str(job.org_id), str(job.project_id)])
    task.enabled = job.enabled
    task.save()
    if job.periodic_task_id != task.pk:
        job.periodic_task = task
        job.save(update_fields=["periodic_task"])


JOB_NAME_TAKEN = "A job with this name already exists."


def _clean_target(target: str, url: str, function_name: str) -> None:
    if target == JobTarget.FUNCTION:
        if not function_name:
            raise ValidationError({"function_name": "The function a function job runs."})
    elif not url:
        raise ValidationError({"url": "The URL a job POSTs to."})
    else:
        _clean_url(url)


@transaction.atomic
def job_create(
    *, membership, project, name: str, schedule: str, url: str = "", payload: dict | None = None,
    enabled: bool = True, target: str = JobTarget.URL, function_name: str = "",
) -> ScheduledJob:  # fmt: skip
    require_org_perm(membership, constants.MANAGE_JOBS)
    _crontab_fields(schedule)
    _clean_target(target, url, function_name)
    with unique_violation_is_invalid("name", JOB_NAME_TAKEN):  # the unique index decides
        job = ScheduledJob.objects.create(
            org=membership.org,
            project=project,
            name=name,
            schedule=schedule,
            url=url if target == JobTarget.URL else "",
            target=target,
            function_name=function_name if target == JobTarget.FUNCTION else "",
            payload=payload or {},
            secret=secrets.token_hex(32),
            enabled=enabled,
            created_by=membership.user,
        )
    _sync_periodic_task(job)
    audit_org_write(membership=membership, action=AuditAction.JOB_CREATE, target=job)
    return job


@transaction.atomic
def job_update(*, membership, job: ScheduledJob, **fields) -> ScheduledJob:
    require_org_perm(membership, constants.MANAGE_JOBS)
    for name in ("name", "schedule", "url", "payload", "enabled", "target", "function_name"):
        if name in fields:
            setattr(job, name, fields[name])
    _crontab_fields(job.schedule)
    if {"url", "target", "function_name"} & set(fields):
        _clean_target(job.target, job.url, job.function_name)
    with unique_violation_is_invalid("name", JOB_NAME_TAKEN):  # renamed to a taken name
        job.save()
    _sync_periodic_task(job)
    audit_org_write(
        membership=membership,
        action=AuditAction.JOB_UPDATE,
        target=job,
        metadata={"fields": sorted(fields)},
    )
    return job


@transaction.atomic
def job_delete(*, membership, job: ScheduledJob) -> None:
    require_org_perm(membership, constants.MANAGE_JOBS)
    audit_org_write(membership=membership, action=AuditAction.JOB_DELETE, target=job)
    if job.periodic_task_id:
        PeriodicTask.objects.filter(pk=job.periodic_task_id).delete()
    job.delete()


class JobDisabled(Exception):
    """A disabled job is not run, not even on request."""


@transaction.atomic
def job_run_now(*, membership, job: ScheduledJob) -> None:
    from compute.tasks import run_scheduled_job

    require_org_perm(membership, constants.MANAGE_JOBS)
    if not job.enabled:
        raise JobDisabled("The job is disabled; enable it to run it.")
    audit_org_write(membership=membership, action=AuditAction.JOB_RUN, target=job)
    job_id, org_id, project_id = str(job.pk), str(job.org_id), str(job.project_id)
    transaction.on_commit(lambda: run_scheduled_job.delay(job_id, org_id, project_id))


def job_run(*, job_id, org_id) -> JobRun | None:
    """One run of a job (from beat or "run now"); None when the job is gone or disabled."""
    with tenant_context(TenantContext(org_id=org_id)):
        job = ScheduledJob.objects.select_related("project").filter(pk=job_id, enabled=True).first()
        if job is None:
            return None
        if job.target == JobTarget.FUNCTION:
            return _job_run_function(job)
        post = _Post(
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
    outcome = _post(post)
    with tenant_context(TenantContext(org_id=org_id)):
        if not ScheduledJob.objects.filter(pk=job_id).exists():
            return None  # deleted while it ran
        run = JobRun.objects.create(
            org_id=org_id,
            job_id=job_id,
            succeeded=outcome.ok,
            response_status=outcome.status,
            error=outcome.summary,
            duration_ms=outcome.duration_ms,
        )
    logger.info(
        "scheduled_job_run",
        job_id=str(job_id),
        succeeded=outcome.ok,
        result=outcome.result,
        response_status=outcome.status,
    )
    return run


def _job_run_function(job: ScheduledJob) -> JobRun | None:
    """A function job: the project's function invoked with the job's payload (trigger
    "cron"), its invocation row holding the logs, the run row the outcome."""
    from functions import services as function_services

    payload = {
        "type": "scheduled",
        "job": {"id": str(job.pk), "name": job.name, "schedule": job.schedule},
        "project_id": str(job.project_id),
        "payload": job.payload,
        "scheduled_at": timezone.now().isoformat(),
    }
    started = timezone.now()
    status, error = None, ""
    try:
        invocation = function_services.function_run(
            project=job.project, name=job.function_name, trigger="cron", payload=payload
        )
        status = invocation.status
        succeeded = invocation.exit_reason == "ok" and status is not None and status < 400
        if not succeeded:
            error = f"function {job.function_name}: {invocation.exit_reason} ({status})"
    except function_services.FunctionNotFound:
        succeeded, error = False, f"No deployed function {job.function_name!r}."
    except function_services.FunctionsUnavailable:
        succeeded, error = False, "The functions supervisor is not running."
    duration_ms = (timezone.now() - started).total_seconds() * 1000
    with tenant_context(TenantContext(org_id=job.org_id)):
        if not ScheduledJob.objects.filter(pk=job.pk).exists():
            return None
        run = JobRun.objects.create(
            org_id=job.org_id,
            job_id=job.pk,
            succeeded=succeeded,
            response_status=status,
            error=error[:300],
            duration_ms=duration_ms,
        )
    logger.info("scheduled_job_run", job_id=str(job.pk), target="function", succeeded=succeeded)
    return run
