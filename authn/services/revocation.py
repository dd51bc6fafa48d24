"""Revoking sessions: PostgreSQL first, then a tombstone in Redis.

When Redis is unreachable the tombstones wait as ``PendingCacheInvalidation`` rows, written in
the same transaction, until ``session_check.reconcile_cache`` can write them.
"""

import structlog
from django.db import transaction
from django.utils import timezone

from authn.models import PendingCacheInvalidation, Session
from authn.signals import sessions_revoked
from cache import sessions as session_cache
from cache.breaker import RedisUnavailable

logger = structlog.get_logger(__name__)


def revoke(sessions: list[Session], *, reason: str) -> int:
    """PostgreSQL first, then tombstones in Redis (or pending, if Redis is unreachable)."""
    now = timezone.now()
    live = [s for s in sessions if s.revoked_at is None]
    if not live:
        return 0
    Session.objects.filter(pk__in=[s.pk for s in live], revoked_at__isnull=True).update(
        revoked_at=now, revoke_reason=reason
    )
    for s in live:
        s.revoked_at, s.revoke_reason = now, reason
    try:
        session_cache.put_tombstones((s.pk, s.subject, s.expires_at.timestamp()) for s in live)
    except RedisUnavailable:
        PendingCacheInvalidation.objects.bulk_create(
            [PendingCacheInvalidation(session_id=s.pk) for s in live], ignore_conflicts=True
        )
        logger.warning("session_revoke_cache_pending", count=len(live))
    revoked_ids = [str(s.pk) for s in live]
    transaction.on_commit(
        lambda: sessions_revoked.send(sender=Session, session_ids=revoked_ids), robust=True
    )
    return len(live)


def live_sessions(user_id: int | None = None, *, end_user_id=None, exclude=None) -> list[Session]:
    """The live sessions of a developer (``user_id``) or an end user, locked for revocation."""
    subject = {"user_id": user_id} if end_user_id is None else {"end_user_id": end_user_id}
    qs = Session.objects.select_for_update().filter(
        **subject, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    if exclude:
        qs = qs.exclude(pk=exclude)
    return list(qs)
