"""Webhooks: define them per project, queue a delivery per matching record change, deliver.

A delivery is a signed POST (HMAC-SHA256 over ``"<timestamp>.<body>"`` with the webhook's
secret, the same scheme as the alert webhooks) carrying the write's ``X-Request-ID`` and, when
tracing is on, ``traceparent``. Non-2xx answers and network errors are retried by the Celery
task with exponential backoff up to ``WEBHOOK_MAX_ATTEMPTS``; every attempt is recorded.
"""

import json
import secrets
import time

import httpx
import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from compute.constants import EVENTS, DeliveryStatus
from compute.models import Webhook, WebhookDelivery
from compute.selectors import webhooks_for_change
from datastore.models import Collection
from observability.notify import outgoing_headers, sign
from tenants import constants
from tenants.context import TenantContext, tenant_context
from tenants.permissions import has_org_perm

logger = structlog.get_logger(__name__)


def _require(membership) -> None:
    if not has_org_perm(membership, constants.MANAGE_SCHEMA):
        raise PermissionDenied("Your role does not allow managing webhooks.")


def _clean(*, events: list[str], url: str) -> None:
    if not events or any(event not in EVENTS for event in events):
        raise ValidationError({"events": f"A non-empty list of {', '.join(EVENTS)}."})
    if not url.startswith(("https://", "http://")):
        raise ValidationError({"url": "An http(s) URL."})


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


def delivery_attempt(*, delivery_id, org_id) -> WebhookDelivery:
    """POST one delivery once and record the outcome; the caller decides about retrying."""
    with tenant_context(TenantContext(org_id=org_id)):
        delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
        if delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
            return delivery
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            **outgoing_headers(),
            "Content-Type": "application/json",
            "User-Agent": "platform-webhooks/1",
            "X-Platform-Webhook-Id": str(delivery.webhook_id),
            "X-Platform-Delivery-Id": str(delivery.pk),
            "X-Platform-Event": delivery.event,
            "X-Platform-Timestamp": timestamp,
            "X-Platform-Signature": sign(delivery.webhook.secret, timestamp, body),
        }
        if delivery.request_id:
            headers["X-Request-ID"] = delivery.request_id
        delivery.attempts += 1
        try:
            response = httpx.post(
                delivery.webhook.url,
                content=body,
                headers=headers,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            )
            delivery.response_status = response.status_code
            ok = 200 <= response.status_code < 300
            delivery.last_error = "" if ok else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok = False
            delivery.response_status = None
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:300]
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
