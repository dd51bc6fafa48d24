"""Sessions and their tokens: login, refresh rotation, logout, revocation, org switch.

Each service acts in the context of the user whose sessions it touches (RLS on
``app_current_user()``), or of platform staff in the Studio; the caller's context comes back
afterwards (``tenants.context.tenant_context``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from authn import request_meta, tokens
from authn.audit import audit_record
from authn.constants import AuditAction, RevokeReason
from authn.models import RefreshToken, Session
from authn.services import revocation
from authn.services.accounts import normalize_email
from cache import sessions as session_cache
from tenants import selectors as tenant_selectors
from tenants.context import TenantContext, set_tenant_context, tenant_context

User = get_user_model()
logger = structlog.get_logger(__name__)


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session_id: str
    user_id: int
    expires_in: int


@dataclass(frozen=True)
class RefreshResult:
    tokens: object = None  # a TokenPair, or the kind's own (an end user's ClientSession)
    reuse_detected: bool = False


def _access_lifetime() -> int:
    return int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())


def _issue(*, user, session: Session, raw_refresh: str) -> TokenPair:
    org_id, role = session.active_org_id, None
    if org_id:
        membership = tenant_selectors.membership_for(user=user, org_ref=str(org_id))
        if membership is None:  # removed from the org since: the token loses its org
            org_id = None
        else:
            role = membership.role
    access = tokens.access_token_for(user=user, session_id=session.id, org_id=org_id, role=role)
    return TokenPair(
        access=access,
        refresh=raw_refresh,
        session_id=str(session.id),
        user_id=user.pk,
        expires_in=_access_lifetime(),
    )


def _session_create(*, user, org_id=None) -> tuple[Session, str]:
    """A session and its first refresh token; the caller has set the user's context."""
    meta = request_meta.current()
    now = timezone.now()
    session = Session.objects.create(
        user=user,
        created_at=now,
        last_seen_at=now,
        expires_at=now + settings.AUTHN_SESSION_LIFETIME,
        ip=meta.ip,
        user_agent=meta.user_agent,
        active_org_id=org_id,
    )
    raw = tokens.new_refresh_token()
    RefreshToken.objects.create(session=session, user_id=user.pk, token_hash=tokens.token_hash(raw))
    session_cache.put_live(session.id, user_id=user.pk, expires_at=session.expires_at.timestamp())
    return session, raw


def session_start(*, user, org_id=None) -> TokenPair:
    """A new session and its first tokens for an already authenticated user."""
    with tenant_context(TenantContext(user_id=user.pk)):
        session, raw = _session_create(user=user, org_id=org_id)
        return _issue(user=user, session=session, raw_refresh=raw)


@transaction.atomic
def login(*, email: str, password: str) -> TokenPair | None:
    """Email + password -> tokens, or None. Unknown email, wrong password and inactive
    account look the same from outside, and cost the same Argon2id work."""
    email = normalize_email(email)
    user = User.objects.filter(username=email).first()
    if user is None:
        make_password(password)  # the hashing work a real check would have done
        ok = False
    else:
        ok = user.check_password(password) and user.is_active  # upgrades legacy hashes
    if not ok:
        login_failure_record(user=user)
        return None
    with tenant_context(TenantContext(user_id=user.pk)):
        session, raw = _session_create(user=user)
        audit_record(
            action=AuditAction.LOGIN_OK,
            actor_id=user.pk,
            target_type="session",
            target_id=session.id,
        )
        return _issue(user=user, session=session, raw_refresh=raw)


def login_failure_record(*, user=None, username: str = "", via: str = "api") -> None:
    """The audit row of a refused login (API or Studio); ``username`` when the caller has no
    user at hand. Never the password, never whether it was the password that was wrong."""
    if user is None and username:
        user = User.objects.filter(username=username).first()
    metadata = {"known_account": user is not None}
    if via != "api":
        metadata["via"] = via
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        actor_id=None,
        target_type="user",
        target_id=user.pk if user else "",
        metadata=metadata,
    )


@dataclass(frozen=True)
class RefreshKind:
    """Whose sessions a refresh serves: the context to act in, whether the session's subject
    may still refresh, how its tokens are issued and how its audit rows read. Developers'
    sessions use ``DEVELOPER``; end users' build one per project (``endusers.services``)."""

    context: Callable[[RefreshToken], object]
    owns: Callable[[RefreshToken], bool]
    subject_active: Callable[[Session], bool]
    issue: Callable[[Session, str], object]
    refresh_audit: Callable[[RefreshToken, Session], dict]
    reuse_audit: Callable[[RefreshToken, Session], dict]


DEVELOPER = RefreshKind(
    context=lambda row: tenant_context(TenantContext(user_id=row.user_id)),
    owns=lambda row: row.user_id is not None,
    subject_active=lambda session: session.user_id is not None and session.user.is_active,
    issue=lambda session, raw: _issue(user=session.user, session=session, raw_refresh=raw),
    refresh_audit=lambda row, session: {"action": AuditAction.REFRESH, "actor_id": row.user_id},
    reuse_audit=lambda row, session: {
        "action": AuditAction.REUSE_DETECTED,
        "metadata": {"user_id": row.user_id},
    },
)


@transaction.atomic
def session_refresh(*, raw_refresh: str, kind: RefreshKind = DEVELOPER) -> RefreshResult:
    """Rotate a refresh token. The row lock makes concurrent refreshes of one token produce
    one successor; a rotated token presented again within the grace window (while its
    successor is still unused) gets that same successor; any other replay revokes the
    session (the whole token family). ``kind`` says whose sessions this refresh serves; a
    token of another kind (a developer's on a client route, or the reverse) is unknown."""
    row = (
        RefreshToken.objects.select_for_update()
        .filter(token_hash=tokens.token_hash(raw_refresh or ""))
        .first()
    )
    if row is None or not kind.owns(row):
        return RefreshResult()
    with kind.context(row):
        return _rotate(row, raw_refresh, kind)


def _rotate(row: RefreshToken, raw_refresh: str, kind: RefreshKind) -> RefreshResult:
    # Row-level security shows only the sessions of the kind's context (a developer's own,
    # or one project's end users'): another project's session is not found.
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("user", "end_user")
        .filter(pk=row.session_id)
        .first()
    )
    now = timezone.now()
    if session is None or not session.is_live(now) or not kind.subject_active(session):
        return RefreshResult()
    successor = tokens.successor_of(raw_refresh)
    if row.rotated_at is None:
        RefreshToken.objects.create(
            session=session,
            user_id=row.user_id,
            token_hash=tokens.token_hash(successor),
            parent=row,
            created_at=now,
        )
        row.rotated_at = now
        row.save(update_fields=["rotated_at"])
        session.last_seen_at = now
        session.save(update_fields=["last_seen_at"])
        audit_record(
            target_type="session", target_id=session.id, **kind.refresh_audit(row, session)
        )
        return RefreshResult(tokens=kind.issue(session, successor))
    child = RefreshToken.objects.filter(parent=row).first()
    grace = timedelta(seconds=settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS)
    if (
        child is not None
        and child.rotated_at is None
        and now - row.rotated_at <= grace
        and child.token_hash == tokens.token_hash(successor)  # not if the secret changed since
    ):
        return RefreshResult(tokens=kind.issue(session, successor))
    revocation.revoke([session], reason=RevokeReason.REUSE_DETECTED)
    audit_record(target_type="session", target_id=session.id, **kind.reuse_audit(row, session))
    logger.warning("refresh_token_reuse", session_id=str(session.id), user_id=session.subject)
    return RefreshResult(reuse_detected=True)


def session_logout(*, user, session_id) -> None:
    with tenant_context(TenantContext(user_id=user.pk)):
        sessions = list(Session.objects.select_for_update().filter(pk=session_id, user=user))
        revocation.revoke(sessions, reason=RevokeReason.LOGOUT)
        audit_record(
            action=AuditAction.LOGOUT,
            actor_id=user.pk,
            target_type="session",
            target_id=session_id,
        )


def session_logout_all(*, user) -> int:
    with tenant_context(TenantContext(user_id=user.pk)):
        count = revocation.revoke(revocation.live_sessions(user.pk), reason=RevokeReason.LOGOUT_ALL)
        audit_record(
            action=AuditAction.LOGOUT_ALL,
            actor_id=user.pk,
            target_type="user",
            target_id=user.pk,
            metadata={"sessions": count},
        )
        return count


def session_revoke(*, actor, session_id, reason: str = RevokeReason.USER) -> Session:
    """Revoke one session: the actor's own, or anyone's when the actor is a platform admin."""
    admin = actor.is_superuser and reason == RevokeReason.ADMIN
    with tenant_context(TenantContext(user_id=actor.pk, platform_admin=admin)):
        qs = Session.objects.all() if admin else Session.objects.filter(user=actor)
        session = qs.select_for_update().filter(pk=session_id).first()
        if session is None:
            raise NotFound("No such session.")
        revocation.revoke([session], reason=reason)
        audit_record(
            action=AuditAction.REVOKE,
            actor_id=actor.pk,
            target_type="session",
            target_id=session.pk,
            metadata={"user_id": session.user_id, "reason": reason},
        )
        return session


def user_sessions_revoke_all(*, actor, user, reason: str = RevokeReason.ADMIN) -> int:
    """Admin: revoke every live session of ``user``."""
    with tenant_context(TenantContext(user_id=actor.pk, platform_admin=True)):
        count = revocation.revoke(revocation.live_sessions(user.pk), reason=reason)
        audit_record(
            action=AuditAction.REVOKE,
            actor_id=actor.pk,
            target_type="user",
            target_id=user.pk,
            metadata={"sessions": count, "reason": reason},
        )
        return count


def session_switch_org(*, user, session_id, org_ref: str) -> TokenPair | None:
    """A new access token whose ``org``/``role`` name another org the user is a member of."""
    with tenant_context(TenantContext(user_id=user.pk)):
        membership = tenant_selectors.membership_for(user=user, org_ref=str(org_ref))
        session = Session.objects.select_for_update().filter(pk=session_id, user=user).first()
        if membership is None or session is None or not session.is_live():
            return None
        session.active_org_id = membership.org_id
        session.save(update_fields=["active_org_id"])
        # The audit row belongs to the org switched to.
        set_tenant_context(
            TenantContext(org_id=membership.org_id, user_id=user.pk, role=membership.role)
        )
        audit_record(
            action=AuditAction.ORG_SWITCH,
            actor_id=user.pk,
            org_id=membership.org_id,
            target_type="session",
            target_id=session.pk,
        )
    access = tokens.access_token_for(
        user=user, session_id=session.pk, org_id=membership.org_id, role=membership.role
    )
    return TokenPair(
        access=access,
        refresh="",
        session_id=str(session.pk),
        user_id=user.pk,
        expires_in=_access_lifetime(),
    )
