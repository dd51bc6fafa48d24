"""What every bearer request and every websocket runs: the access token, then its session.

``authenticate_access_token`` is the one place a token is accepted: the JWT's signature,
algorithm, ``iss``/``aud``, expiry and type (simplejwt), then its session (``sid``) must be
live, then its user active. The HTTP middleware and the realtime consumer both call it.

The session check asks Redis first and PostgreSQL on a miss or while the breaker is open,
then re-caches; tombstones that could not be written while Redis was unreachable are written
before any cache hit is believed again.
"""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from authn.models import PendingCacheInvalidation, Session
from cache import entities
from cache import sessions as session_cache
from cache.breaker import RedisUnavailable
from tenants.context import TenantContext, set_tenant_context, tenant_context

logger = structlog.get_logger(__name__)
MAX_TOKEN_LENGTH = 4096


class AuthFailed(Exception):
    """A token was not accepted (the message never says which part failed)."""


@dataclass(frozen=True)
class Authenticated:
    user: object
    token: AccessToken
    session_id: UUID


def authenticate_access_token(raw: str) -> Authenticated:
    """The user and token behind ``raw``, or ``AuthFailed``."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise AuthFailed("missing token")
    try:
        token = AccessToken(raw)
        user_id = int(token.get("sub"))
        session_id = UUID(str(token.get("sid")))
    except (TokenError, TypeError, ValueError):
        raise AuthFailed("invalid or expired token") from None
    if not session_is_live(session_id=session_id, user_id=user_id):
        raise AuthFailed("invalid or expired token")
    user = active_user(user_id)
    if user is None:
        raise AuthFailed("invalid or expired token")
    return Authenticated(user=user, token=token, session_id=session_id)


def active_user(user_id: int):
    """The active user ``user_id`` (a fresh instance), or None; from this process's copy when
    the epoch allows (a deactivation sets a new one)."""

    def load():
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        return entities.snapshot(user) if user is not None else None

    return entities.restore(entities.cached(("user", user_id), load))


def _read_session(session_id, user_id: int | str, project_id=None) -> Session | None:
    """Read a session as its user (a developer's id, or an end user's with its project). The
    block is rolled back, which undoes the context too, so the caller's (if any) needs no
    restoring: the miss path stays at one read."""
    with transaction.atomic():
        if project_id is None:
            set_tenant_context(TenantContext(user_id=user_id))
            session = Session.objects.filter(pk=session_id, user_id=user_id).first()
        else:
            set_tenant_context(
                TenantContext(
                    project_id=project_id, end_user_id=user_id, client_role="authenticated"
                )
            )
            session = Session.objects.filter(
                pk=session_id, end_user_id=user_id, project_id=project_id
            ).first()
        transaction.set_rollback(True)
    return session


def reconcile_cache() -> int:
    """Write the tombstones that could not be written while Redis was unreachable."""
    # Probe first: with the breaker open this fails fast, before any PostgreSQL work; after
    # the reset timeout it is the half-open trial call.
    session_cache.ping()
    with tenant_context(TenantContext(platform_admin=True)):
        pending = list(
            PendingCacheInvalidation.objects.select_for_update(skip_locked=True).values_list(
                "session_id", flat=True
            )
        )
        rows = list(
            Session.objects.filter(pk__in=pending).values_list(
                "pk", "user_id", "end_user_id", "expires_at"
            )
        )
        session_cache.put_tombstones(
            (pk, uid if uid is not None else str(eid), exp.timestamp())
            for pk, uid, eid, exp in rows
        )
        PendingCacheInvalidation.objects.filter(session_id__in=pending).delete()
    session_cache.reconciled()
    if pending:
        logger.info("session_cache_reconciled", tombstones=len(rows))
    return len(rows)


def session_is_live(*, session_id, user_id: int | str, project_id=None) -> bool:
    """Is this session live? Redis first; on a miss or with Redis unavailable, PostgreSQL.

    ``user_id`` is a developer's id, or an end user's id (a string) with its ``project_id``.
    """
    use_cache = True
    if session_cache.needs_reconcile():
        try:
            reconcile_cache()
        except RedisUnavailable:
            use_cache = False
    cached = None
    if use_cache:
        try:
            cached = session_cache.get(session_id)
        except RedisUnavailable:
            use_cache = False
    if cached is not None:
        session_cache.stats.count("hits")
        return cached.is_live_for(user_id)
    if use_cache:
        session_cache.stats.count("misses")
    session = _read_session(session_id, user_id, project_id)
    if session is None or not session.is_live():
        return False
    if use_cache:
        session_cache.put_live(
            session.pk, user_id=user_id, expires_at=session.expires_at.timestamp()
        )
    return True


def sessions_warm_on_start() -> int | None:
    """What a server process does at start: reconcile its trust in the cache (every process),
    then warm the cache unless another process of the deployment did so in the last
    ``session_cache.WARM_CLAIM_SECONDS`` (N instances of W workers restarting read the same
    sessions once, not N x W times). A Redis that restarts empty loses the claim with the
    sessions, so the next process to start warms again. Returns the rows warmed, or None."""
    reconcile_cache()
    if not session_cache.claim_warm():
        logger.info("session_cache_warm_skipped", reason="warmed by another process")
        return None
    return sessions_warm()


def sessions_warm(*, limit: int | None = None, within: timedelta = timedelta(hours=24)) -> int:
    """Load the most recently active live sessions into Redis (pipelined, ``SET NX``)."""
    limit = limit or settings.AUTHN_WARM_SESSIONS_LIMIT
    reconcile_cache()
    now = timezone.now()
    with tenant_context(TenantContext(platform_admin=True)):
        rows = list(
            Session.objects.filter(
                revoked_at__isnull=True, expires_at__gt=now, last_seen_at__gte=now - within
            )
            .order_by("-last_seen_at")
            .values_list("pk", "user_id", "end_user_id", "expires_at")[:limit]
        )
        transaction.set_rollback(True)
    added = session_cache.warm(
        (pk, uid if uid is not None else str(eid), exp.timestamp()) for pk, uid, eid, exp in rows
    )
    logger.info("session_cache_warmed", candidates=len(rows), added=added)
    return len(rows)
