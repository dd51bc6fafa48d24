"""Reads for webhooks; row-level security scopes every query to the org in context."""

from django.db.models import QuerySet

from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery


def webhook_list(*, project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).order_by("created_at")


def webhook_get(*, project, webhook_id) -> Webhook | None:
    return Webhook.objects.filter(project=project, pk=webhook_id).first()


def delivery_list(*, webhook: Webhook, limit: int = 100) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at")[:limit]


def webhooks_for_change(*, project_id, collection: str, event: str) -> list[Webhook]:
    return [
        hook
        for hook in Webhook.objects.filter(project_id=project_id, active=True)
        if event in hook.events and hook.collection in ("", collection)
    ]


def job_list(*, project) -> QuerySet[ScheduledJob]:
    return ScheduledJob.objects.filter(project=project).order_by("created_at")


def job_get(*, project, job_id) -> ScheduledJob | None:
    return ScheduledJob.objects.filter(project=project, pk=job_id).first()


def run_list(*, job: ScheduledJob, limit: int = 100) -> QuerySet[JobRun]:
    return JobRun.objects.filter(job=job).order_by("-started_at")[:limit]
