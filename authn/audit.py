"""The audit trail: one ``AuditEvent`` row and one structured log line per write.

Every write a person makes (auth events, and an org's developers and admins changing orgs,
members, projects, collections, webhooks, jobs, files, alert channels, and staff in the
Studio) records one event, in the same transaction as the write: if the write rolls back, so
does its event. Neither the row nor the line ever holds a password or a token: callers pass
ids and outcomes only, and the line is built from the same fields as the row.
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
        "audit_event",
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


def audit_org_write(*, membership, action: str, target, metadata: dict | None = None):
    """A member's write inside their org: actor and org from ``membership``, the target a model
    instance (its model name and primary key)."""
    return audit_record(
        action=action,
        actor_id=membership.user_id,
        org_id=membership.org_id,
        target_type=target._meta.model_name,
        target_id=target.pk,
        metadata=metadata,
    )
