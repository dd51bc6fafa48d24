"""Writes of the auth service: accounts, sessions, refresh rotation, revocation.

A ``Session`` row in PostgreSQL is the truth; ``cache.sessions`` holds a copy in Redis.
Revocation writes PostgreSQL first and then a tombstone in Redis (or, when Redis is
unreachable, a ``PendingCacheInvalidation`` row in the same transaction).

Services that can fail after writing something that must stay (a failed login's audit row,
the revocation that follows refresh-token reuse) return a result instead of raising, because
an API error rolls the request's transaction back.
"""

from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from authn import emails, tokens
from authn.audit import audit_record  # noqa: F401  (a service of this app, used by others)
from authn.constants import AuditAction, RevokeReason
from authn.models import AccountState, PendingCacheInvalidation, RefreshToken, Session
from authn.signals import sessions_revoked
from cache import sessions as session_cache
from cache.breaker import RedisUnavailable
from tenants import selectors as tenant_selectors

User = get_user_model()
logger = structlog.get_logger(__name__)
EMAIL_VERIFY_SALT = "authn.email-verify"
EMAIL_VERIFY_MAX_AGE = 3 * 24 * 3600


class AuthFailed(Exception):
    """Credentials or a token were not accepted (the message never says which part)."""


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session_id: str
    user_id: int
    expires_in: int


def _set_user_context(user_id: int | None) -> None:
    """Bind ``app.user_id`` for this transaction, keeping the org / platform-admin settings."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.user_id', %s, true)", [str(user_id) if user_id else ""]
        )


def _set_platform_admin() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.platform_admin', 'on', true)")


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


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


# --- accounts ---------------------------------------------------------------------------------
@transaction.atomic
def user_register(*, email: str, password: str, first_name: str = "", last_name: str = ""):
    email = normalize_email(email)
    if User.objects.filter(username=email).exists():
        # Same answer as a fresh sign-up would get is not possible without e-mail round trips;
        # the rate limit on register bounds enumeration through this message.
        raise ValidationError({"email": "An account with this email already exists."})
    user = User(username=email, email=email, first_name=first_name, last_name=last_name)
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save()
    AccountState.objects.create(user=user)
    audit_record(
        action=AuditAction.REGISTER, actor_id=user.pk, target_type="user", target_id=user.pk
    )
    email_verify_request(user=user)
    return user


@transaction.atomic
def user_update(*, user, first_name: str | None = None, last_name: str | None = None):
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    user.full_clean(exclude=["password"])
    user.save(update_fields=["first_name", "last_name"])
    return user


# --- sessions ---------------------------------------------------------------------------------
def _session_create(*, user, org_id=None) -> tuple[Session, str]:
    meta = _meta()
    _set_user_context(user.pk)
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


def _meta():
    from authn import request_meta

    return request_meta.current()


@transaction.atomic
def session_start(*, user, org_id=None) -> TokenPair:
    """A new session and its first tokens for an already authenticated user."""
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
    session, raw = _session_create(user=user)
    audit_record(
        action=AuditAction.LOGIN_OK, actor_id=user.pk, target_type="session", target_id=session.id
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
class RefreshResult:
    tokens: TokenPair | None = None
    reuse_detected: bool = False


@transaction.atomic
def session_refresh(*, raw_refresh: str) -> RefreshResult:
    """Rotate a refresh token. The row lock makes concurrent refreshes of one token produce
    one successor; a rotated token presented again within the grace window (while its
    successor is still unused) gets that same successor; any other replay revokes the
    session (the whole token family)."""
    row = (
        RefreshToken.objects.select_for_update()
        .filter(token_hash=tokens.token_hash(raw_refresh or ""))
        .first()
    )
    if row is None:
        return RefreshResult()
    _set_user_context(row.user_id)
    session = Session.objects.select_for_update().select_related("user").get(pk=row.session_id)
    now = timezone.now()
    if not session.is_live(now) or not session.user.is_active:
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
            action=AuditAction.REFRESH,
            actor_id=row.user_id,
            target_type="session",
            target_id=session.id,
        )
        return RefreshResult(
            tokens=_issue(user=session.user, session=session, raw_refresh=successor)
        )
    child = RefreshToken.objects.filter(parent=row).first()
    grace = timedelta(seconds=settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS)
    if (
        child is not None
        and child.rotated_at is None
        and now - row.rotated_at <= grace
        and child.token_hash == tokens.token_hash(successor)  # not if the secret changed since
    ):
        return RefreshResult(
            tokens=_issue(user=session.user, session=session, raw_refresh=successor)
        )
    _revoke([session], reason=RevokeReason.REUSE_DETECTED)
    audit_record(
        action=AuditAction.REUSE_DETECTED,
        actor_id=None,
        target_type="session",
        target_id=session.id,
        metadata={"user_id": row.user_id},
    )
    logger.warning("refresh_token_reuse", session_id=str(session.id), user_id=row.user_id)
    return RefreshResult(reuse_detected=True)


def _revoke(sessions: list[Session], *, reason: str) -> int:
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
        session_cache.put_tombstones((s.pk, s.user_id, s.expires_at.timestamp()) for s in live)
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


def _live_sessions(user_id: int, *, exclude=None) -> list[Session]:
    qs = Session.objects.select_for_update().filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    if exclude:
        qs = qs.exclude(pk=exclude)
    return list(qs)


@transaction.atomic
def session_logout(*, user, session_id) -> None:
    _set_user_context(user.pk)
    sessions = list(Session.objects.select_for_update().filter(pk=session_id, user=user))
    _revoke(sessions, reason=RevokeReason.LOGOUT)
    audit_record(
        action=AuditAction.LOGOUT, actor_id=user.pk, target_type="session", target_id=session_id
    )


@transaction.atomic
def session_logout_all(*, user) -> int:
    _set_user_context(user.pk)
    count = _revoke(_live_sessions(user.pk), reason=RevokeReason.LOGOUT_ALL)
    audit_record(
        action=AuditAction.LOGOUT_ALL,
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
        metadata={"sessions": count},
    )
    return count


@transaction.atomic
def session_revoke(*, actor, session_id, reason: str = RevokeReason.USER) -> Session:
    """Revoke one session: the actor's own, or anyone's when the actor is a platform admin."""
    if actor.is_superuser and reason == RevokeReason.ADMIN:
        _set_platform_admin()
        qs = Session.objects.all()
    else:
        _set_user_context(actor.pk)
        qs = Session.objects.filter(user=actor)
    session = qs.select_for_update().filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such session.")
    _revoke([session], reason=reason)
    audit_record(
        action=AuditAction.REVOKE,
        actor_id=actor.pk,
        target_type="session",
        target_id=session.pk,
        metadata={"user_id": session.user_id, "reason": reason},
    )
    return session


@transaction.atomic
def user_sessions_revoke_all(*, actor, user, reason: str = RevokeReason.ADMIN) -> int:
    """Admin: revoke every live session of ``user``."""
    _set_platform_admin()
    count = _revoke(_live_sessions(user.pk), reason=reason)
    audit_record(
        action=AuditAction.REVOKE,
        actor_id=actor.pk,
        target_type="user",
        target_id=user.pk,
        metadata={"sessions": count, "reason": reason},
    )
    return count


@transaction.atomic
def user_deactivate(*, actor, user) -> None:
    _set_platform_admin()
    user.is_active = False
    user.save(update_fields=["is_active"])
    count = _revoke(_live_sessions(user.pk), reason=RevokeReason.USER_DEACTIVATED)
    audit_record(
        action=AuditAction.USER_DEACTIVATE,
        actor_id=actor.pk,
        target_type="user",
        target_id=user.pk,
        metadata={"sessions": count},
    )


@transaction.atomic
def session_switch_org(*, user, session_id, org_ref: str) -> TokenPair | None:
    """A new access token whose ``org``/``role`` name another org the user is a member of."""
    _set_user_context(user.pk)
    membership = tenant_selectors.membership_for(user=user, org_ref=str(org_ref))
    session = Session.objects.select_for_update().filter(pk=session_id, user=user).first()
    if membership is None or session is None or not session.is_live():
        return None
    session.active_org_id = membership.org_id
    session.save(update_fields=["active_org_id"])
    with connection.cursor() as cursor:  # the audit row belongs to the org switched to
        cursor.execute("SELECT set_config('app.org_id', %s, true)", [str(membership.org_id)])
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


# --- passwords --------------------------------------------------------------------------------
def _password_changed(user) -> None:
    AccountState.objects.update_or_create(
        user=user, defaults={"password_changed_at": timezone.now()}
    )


@transaction.atomic
def password_change(*, user, session_id, current_password: str, new_password: str) -> int:
    """Change the password; every other session of the user is revoked."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": "The current password is not correct."})
    password_validation.validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _password_changed(user)
    _set_user_context(user.pk)
    count = _revoke(
        _live_sessions(user.pk, exclude=session_id), reason=RevokeReason.PASSWORD_CHANGE
    )
    audit_record(
        action=AuditAction.PASSWORD_CHANGE,
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
        metadata={"sessions_revoked": count},
    )
    return count


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Mail a reset link if the account exists; the caller sees the same either way."""
    email = normalize_email(email)
    user = User.objects.filter(username=email, is_active=True).first()
    target = user or User(username=email, password=make_password(None))
    uid = urlsafe_base64_encode(force_bytes(target.pk or 0))
    token = default_token_generator.make_token(target)
    audit_record(
        action=AuditAction.PASSWORD_RESET_REQUEST,
        actor_id=None,
        target_type="user",
        target_id=user.pk if user else "",
        metadata={"known_account": user is not None},
    )
    if user is not None:
        emails.send_password_reset(email=user.email, uid=uid, token=token)


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str):
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError):
        user_id = None
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not default_token_generator.check_token(user, token):
        raise ValidationError({"token": "This reset link is invalid or has expired."})
    password_validation.validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _password_changed(user)
    _set_user_context(user.pk)
    count = _revoke(_live_sessions(user.pk), reason=RevokeReason.PASSWORD_RESET)
    audit_record(
        action=AuditAction.PASSWORD_RESET,
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
        metadata={"sessions_revoked": count},
    )
    return user


# --- email verification -----------------------------------------------------------------------
def email_verify_request(*, user) -> None:
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFY_SALT)
    audit_record(
        action=AuditAction.EMAIL_VERIFY_REQUEST,
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
    )
    emails.send_email_verification(email=user.email, token=token)


@transaction.atomic
def email_verify_confirm(*, token: str):
    try:
        data = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError({"token": "This verification link is invalid or has expired."})  # noqa: B904
    user = User.objects.filter(pk=data.get("u"), email=data.get("e"), is_active=True).first()
    if user is None:
        raise ValidationError({"token": "This verification link is invalid or has expired."})
    AccountState.objects.update_or_create(user=user, defaults={"email_verified_at": timezone.now()})
    audit_record(
        action=AuditAction.EMAIL_VERIFIED, actor_id=user.pk, target_type="user", target_id=user.pk
    )
    return user


# --- session validation and the cache ---------------------------------------------------------
def _read_session(session_id, user_id: int) -> Session | None:
    """Read a session as its user, in a savepoint rolled back afterwards so no setting leaks."""
    with transaction.atomic():
        _set_user_context(user_id)
        session = Session.objects.filter(pk=session_id, user_id=user_id).first()
        transaction.set_rollback(True)
    return session


def reconcile_cache() -> int:
    """Write the tombstones that could not be written while Redis was unreachable."""
    # Probe first: with the breaker open this fails fast, before any PostgreSQL work; after
    # the reset timeout it is the half-open trial call.
    session_cache.ping()
    with transaction.atomic():
        _set_platform_admin()
        pending = list(
            PendingCacheInvalidation.objects.select_for_update(skip_locked=True).values_list(
                "session_id", flat=True
            )
        )
        rows = list(
            Session.objects.filter(pk__in=pending).values_list("pk", "user_id", "expires_at")
        )
        session_cache.put_tombstones((pk, uid, exp.timestamp()) for pk, uid, exp in rows)
        PendingCacheInvalidation.objects.filter(session_id__in=pending).delete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.platform_admin', '', true)")
    session_cache.reconciled()
    if pending:
        logger.info("session_cache_reconciled", tombstones=len(rows))
    return len(rows)


def session_is_live(*, session_id, user_id: int) -> bool:
    """Is this session live? Redis first; on a miss or with Redis unavailable, PostgreSQL."""
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
    session = _read_session(session_id, user_id)
    if session is None or not session.is_live():
        return False
    if use_cache:
        session_cache.put_live(
            session.pk, user_id=user_id, expires_at=session.expires_at.timestamp()
        )
    return True


def sessions_warm(*, limit: int | None = None, within: timedelta = timedelta(hours=24)) -> int:
    """Load the most recently active live sessions into Redis (pipelined, ``SET NX``)."""
    limit = limit or settings.AUTHN_WARM_SESSIONS_LIMIT
    reconcile_cache()
    now = timezone.now()
    with transaction.atomic():
        _set_platform_admin()
        rows = list(
            Session.objects.filter(
                revoked_at__isnull=True, expires_at__gt=now, last_seen_at__gte=now - within
            )
            .order_by("-last_seen_at")
            .values_list("pk", "user_id", "expires_at")[:limit]
        )
        transaction.set_rollback(True)
    added = session_cache.warm((pk, uid, exp.timestamp()) for pk, uid, exp in rows)
    logger.info("session_cache_warmed", candidates=len(rows), added=added)
    return len(rows)
