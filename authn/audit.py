"""The auth audit trail: one ``AuditEvent`` row and one structured log line per event.

Neither ever holds a password or a token: callers pass ids and outcomes only, and the log
line is built from the same whitelisted fields as the row.
"""

import structlog

from authn import request_meta
from authn.models import AuditEvent

logger = structlog.get_logger("authn.audit")


def audit_record(
    *,
    action: str,
    actor_id: int | None = None,
    org_id=None,
    target_type: str = "",
    target_id: str = "",
    metadata: dict | None = None,
) -> AuditEvent:
    meta = request_meta.current()
    event = AuditEvent.objects.create(
        action=action,
        actor_id=actor_id,
        org_id=org_id,
        target_type=target_type,
        target_id=str(target_id or ""),
        ip=meta.ip,
        user_agent=meta.user_agent,
        request_id=meta.request_id,
        metadata=metadata or {},
    )
    logger.info(
        "auth_event",
        action=action,
        actor_id=actor_id,
        org_id=str(org_id) if org_id else None,
        target_type=target_type,
        target_id=event.target_id,
        ip=meta.ip,
        request_id=meta.request_id,
        **(metadata or {}),
    )
    return event
