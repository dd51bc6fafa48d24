"""Writes: error groups, alert channels, alert acknowledgement, test notifications.

Channel writes and acknowledgements are an org member's (``MANAGE_ALERTS``) or, in the
Studio, platform staff's; error groups are the platform's own bookkeeping.
"""

import uuid
from datetime import timedelta

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connections, transaction
from django.utils import timezone

from authn.audit import audit_org_write, audit_record
from authn.constants import AuditAction
from observability.constants import AlertState, ChannelKind
from observability.fingerprints import fingerprint
from observability.models import Alert, AlertChannel, ErrorGroup, ErrorOccurrence
from observability.selectors import ERRORS_DB
from outbound import destinations
from tenants.constants import MANAGE_ALERTS
from tenants.permissions import require_org_perm

logger = structlog.get_logger(__name__)


def error_record(
    *, exc: BaseException, source: str, request_id: str = "", org_id=None
) -> ErrorGroup:
    """Count one occurrence into its group (created on first sight), atomically."""
    digest, exc_type, location = fingerprint(exc)
    now = timezone.now()
    message = str(exc)[:1000]
    org_id = uuid.UUID(str(org_id)) if org_id else None
    with transaction.atomic(using=ERRORS_DB):
        with connections[ERRORS_DB].cursor() as cursor:
            # One statement, so concurrent workers never lose a count or race on creation.
            cursor.execute(
                """
                INSERT INTO observability_errorgroup AS g
                    (fingerprint, source, exc_type, location, message, count, first_seen,
                     last_seen, sample_request_id, sample_org_id)
                VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s, %s)
                ON CONFLICT (fingerprint) DO UPDATE SET
                    count = g.count + 1,
                    last_seen = EXCLUDED.last_seen,
                    message = EXCLUDED.message,
                    sample_request_id = EXCLUDED.sample_request_id,
                    sample_org_id = coalesce(EXCLUDED.sample_org_id, g.sample_org_id)
                RETURNING id
                """,
                [digest, source, exc_type, location, message, now, now, request_id, org_id],
            )
            group_id = cursor.fetchone()[0]
        ErrorOccurrence.objects.using(ERRORS_DB).create(
            group_id=group_id, at=now, request_id=request_id, org_id=org_id
        )
    logger.info("error_recorded", fingerprint=digest, exc_type=exc_type, location=location)
    return ErrorGroup.objects.using(ERRORS_DB).get(pk=group_id)


def errors_prune(*, now=None) -> dict:
    """Drop occurrences past the window and groups not seen within it."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.ERROR_RETENTION_HOURS)
    with transaction.atomic(using=ERRORS_DB):
        occurrences, _ = ErrorOccurrence.objects.using(ERRORS_DB).filter(at__lt=cutoff).delete()
        groups, _ = ErrorGroup.objects.using(ERRORS_DB).filter(last_seen__lt=cutoff).delete()
    return {"occurrences": occurrences, "groups": groups}


def channel_create(
    *,
    membership,
    name: str,
    kind: str,
    target: str,
    secret: str = "",
    min_severity: str = "warning",
    escalation_level: int = 0,
) -> AlertChannel:
    require_org_perm(membership, MANAGE_ALERTS)
    kind = ChannelKind(kind)
    if kind != ChannelKind.EMAIL:
        destinations.validate(target, field="target")
    with transaction.atomic():
        channel = AlertChannel.objects.create(
            org=membership.org,
            name=name,
            kind=kind,
            target=target,
            secret=secret,
            min_severity=min_severity,
            escalation_level=escalation_level,
        )
        audit_org_write(
            membership=membership,
            action=AuditAction.ALERT_CHANNEL_CREATE,
            target=channel,
            metadata={"kind": str(kind)},
        )
        return channel


def channel_delete(*, membership, channel: AlertChannel) -> None:
    require_org_perm(membership, MANAGE_ALERTS)
    with transaction.atomic():
        audit_org_write(
            membership=membership, action=AuditAction.ALERT_CHANNEL_DELETE, target=channel
        )
        channel.delete()


def channel_test(*, membership, channel: AlertChannel) -> None:
    """Enqueue a test notification to ``channel`` once the request's transaction commits."""
    from observability.tasks import deliver_test_notification

    require_org_perm(membership, MANAGE_ALERTS)
    channel_id, org_id = str(channel.id), str(membership.org_id)
    with transaction.atomic():
        channel.last_test_requested_at = timezone.now()
        channel.save(update_fields=["last_test_requested_at"])
        audit_org_write(
            membership=membership, action=AuditAction.ALERT_CHANNEL_TEST, target=channel
        )
        logger.info("alert_channel_test_requested", channel_id=channel_id)
        transaction.on_commit(lambda: deliver_test_notification.delay(channel_id, org_id))


def alert_acknowledge(*, alert: Alert, actor, membership=None) -> Alert:
    """Stops escalation; PagerDuty gets an ``acknowledge`` for the same dedup key.

    ``membership`` is the acting member's (the API); without one the actor must be platform
    staff (the Studio).
    """
    from observability import alerts

    if membership is not None:
        require_org_perm(membership, MANAGE_ALERTS)
    elif not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only platform staff acknowledge alerts outside an org.")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state != AlertState.FIRING:
            return alert
        alert.state = AlertState.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["state", "acknowledged_at"])
        audit_record(
            action=AuditAction.ALERT_ACKNOWLEDGE,
            actor_id=actor.pk,
            org_id=alert.org_id,
            target_type="alert",
            target_id=alert.pk,
            metadata={"dedup_key": alert.dedup_key[:200]},
        )
        alerts.notify_on_commit(alert, "acknowledge", levels=range(alert.escalation_level + 1))
    logger.info("alert_acknowledged", alert_id=str(alert.id), by=actor.pk)
    return alert
