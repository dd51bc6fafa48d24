"""Celery tasks: alert evaluation (beat), error pruning (beat), test notifications.

One alert evaluation at a time across the deployment: ``evaluate_alerts`` holds a Redis lock
(``EVALUATION_LOCK_KEY``, with a TTL equal to the task's time limit, so a worker killed
mid-round cannot keep it) and a round that finds it taken returns without evaluating. Beat
sends the task (one beat per deployment); the lock covers a second beat started by mistake
and several workers taking rounds at once. While Redis is unavailable the round evaluates
without the lock: that is when the "Redis down" rule must fire.
"""

import contextlib

import structlog
from celery import shared_task
from redis.exceptions import LockError

from cache import metrics
from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis
from observability import alerts, notify, services
from observability.models import AlertChannel
from tenants.context import TenantContext, tenant_context

logger = structlog.get_logger(__name__)


EVALUATION_LOCK_KEY = "platform:alerts:evaluation-lock"
EVALUATION_TIME_LIMIT = 120  # seconds: the task's hard limit and the lock's TTL


@shared_task(time_limit=EVALUATION_TIME_LIMIT, soft_time_limit=100)
def evaluate_alerts() -> dict:
    # One Redis metrics sample per round keeps the hour-long series and the hotkey check going
    # when nobody has the dashboard open (the sample has its own once-per-slot guard).
    metrics.sample()
    lock = get_redis().lock(EVALUATION_LOCK_KEY, timeout=EVALUATION_TIME_LIMIT, blocking=False)
    try:
        held = redis_call(lock.acquire)
    except RedisUnavailable:
        held = None
        logger.warning("alerts_evaluating_without_lock", reason="redis unavailable")
    if held is False:
        logger.info("alerts_evaluation_skipped", reason="another round holds the lock")
        return {"skipped": True}
    try:
        return alerts.evaluate()
    finally:
        if held:
            # LockError: the lock expired and another round took it; that round releases it.
            with contextlib.suppress(RedisUnavailable, LockError):
                redis_call(lock.release)


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
