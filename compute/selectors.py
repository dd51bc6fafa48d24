"""Reads for webhooks; row-level security scopes every query to the org in context."""

from django.db.models import QuerySet

from cache import entities
from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery
from tenants.context import TenantContext, tenant_context


def webhook_list(*, project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).order_by("created_at")


def webhook_get(*, project, webhook_id) -> Webhook | None:
    return Webhook.objects.filter(project=project, pk=webhook_id).first()


def delivery_list(*, webhook: Webhook, limit: int = 100) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at")[:limit]


def project_has_webhooks(*, org_id, project_id) -> bool:
    """Whether the project has an active webhook: what a record write asks after commit, from
    this process's copy when the epoch allows (a webhook's save or delete sets a new one), so
    a project without webhooks costs its writes no transaction."""

    def load() -> bool:
        with tenant_context(TenantContext(org_id=org_id)):
            return Webhook.objects.filter(project_id=project_id, active=True).exists()

    return entities.cached(("webhooks", str(project_id)), load)


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
