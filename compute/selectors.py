"""Reads for webhooks; row-level security scopes every query to the org in context."""

from django.db.models import QuerySet

from compute.models import Webhook, WebhookDelivery


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
