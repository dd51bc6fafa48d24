"""Celery tasks: alert evaluation (beat), error pruning (beat), test notifications."""

import structlog
from celery import shared_task

from cache import metrics
from observability import alerts, notify, services
from observability.models import AlertChannel
from tenants.context import TenantContext, tenant_context

logger = structlog.get_logger(__name__)


@shared_task(time_limit=120, soft_time_limit=100)
def evaluate_alerts() -> dict:
    # One Redis metrics sample per round keeps the hour-long series and the hotkey check going
    # when nobody has the dashboard open.
    metrics.sample()
    return alerts.evaluate()


@shared_task(time_limit=300)
def prune_errors() -> dict:
    return services.errors_prune()


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3, time_limit=60)
def deliver_test_notification(channel_id: str, org_id: str) -> bool:
    with tenant_context(TenantContext(org_id=org_id)):
        channel = AlertChannel.objects.filter(id=channel_id, org_id=org_id).first()
    if channel is None:
        logger.warning("alert_channel_gone", channel_id=channel_id)
        return False
    result = notify.send(channel, action="test")  # no transaction open: see outbound.client
    with tenant_context(TenantContext(org_id=org_id)):
        notify.record(channel, result, action="test")
    logger.info("alert_channel_test_delivered", channel_id=channel_id, ok=result.ok)
    return result.ok
