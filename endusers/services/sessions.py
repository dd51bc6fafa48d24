"""End users' sessions: ``authn.models.Session`` rows with ``end_user`` set.

An end user's session lives in the same table, with the same refresh-token family, Redis
cache, revocation tombstones and warming as a developer's; only the access token differs
(``endusers.tokens``: per project, ``role: authenticated``). The services act as the
project's service role (``acting_for``): the auth server of a project reads and writes its
end users, which no client-app caller can do by itself.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from access.constants import SERVICE_ROLE
from authn import request_meta
from authn import tokens as authn_tokens
from authn.audit import audit_record
from authn.constants import AuditAction, RevokeReason
from authn.models import RefreshToken, Session
from authn.services import revocation
from authn.services.sessions import RefreshKind, RefreshResult, session_refresh
from cache import sessions as session_cache
from endusers import tokens
from tenants.context import TenantContext, tenant_context

SIGNOUT_SCOPES = ("local", "global", "others")


@dataclass(frozen=True)
class ClientSession:
    access_token: str
    refresh_token: str
    expires_at: int
    expires_in: int
    session_id: str
    end_user: object


def acting_for(project):
    """The project's service-role context, for the auth services of that project."""
    return tenant_context(
        TenantContext(org_id=project.org_id, project_id=project.id, client_role=SERVICE_ROLE)
    )


def issue(*, project, end_user, session: Session, raw_refresh: str) -> ClientSession:
    access, expires_at = tokens.access_token_for(
        project=project, end_user=end_user, session_id=session.id
    )
    return ClientSession(
        access_token=access,
        refresh_token=raw_refresh,
        expires_at=expires_at,
        expires_in=int(settings.CLIENT_ACCESS_TOKEN_LIFETIME.total_seconds()),
        session_id=str(session.id),
        end_user=end_user,
    )


def end_user_session_start(*, project, end_user) -> ClientSession:
    """A new session and its first tokens for an end user already authenticated."""
    meta = request_meta.current()
    now = timezone.now()
    with acting_for(project):
        session = Session.objects.create(
            end_user=end_user,
            project=project,
            org_id=project.org_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + settings.AUTHN_SESSION_LIFETIME,
            ip=meta.ip,
            user_agent=meta.user_agent,
        )
        raw = authn_tokens.new_refresh_token()
        RefreshToken.objects.create(session=session, token_hash=authn_tokens.token_hash(raw))
        type(end_user).objects.filter(pk=end_user.pk).update(last_sign_in_at=now)
        end_user.last_sign_in_at = now
    session_cache.put_live(
        session.id, user_id=str(end_user.id), expires_at=session.expires_at.timestamp()
    )
    return issue(project=project, end_user=end_user, session=session, raw_refresh=raw)


def is_banned(end_user, now=None) -> bool:
    return end_user.banned_until is not None and end_user.banned_until > (now or timezone.now())


def refresh_kind(project) -> RefreshKind:
    """The end users of ``project`` as a kind of ``authn``'s one refresh rotation: the same
    row locks, grace window and reuse detection (family revoked) as developers' sessions."""

    def audit(action):
        return lambda row, session: {
            "action": action,
            "org_id": project.org_id,
            "metadata": {"end_user_id": str(session.end_user_id), "project": str(project.id)},
        }

    return RefreshKind(
        context=lambda row: acting_for(project),
        owns=lambda row: row.user_id is None,
        subject_active=lambda session: (
            session.end_user_id is not None
            and session.project_id == project.id
            and not is_banned(session.end_user)
        ),
        issue=lambda session, raw: issue(
            project=project, end_user=session.end_user, session=session, raw_refresh=raw
        ),
        refresh_audit=audit(AuditAction.REFRESH),
        reuse_audit=audit(AuditAction.END_USER_REFRESH_REUSE),
    )


def end_user_session_refresh(*, project, raw_refresh: str) -> RefreshResult:
    return session_refresh(raw_refresh=raw_refresh, kind=refresh_kind(project))


def end_user_signout(*, project, end_user_id, session_id, scope: str) -> int:
    """Revoke this session (``local``), every session of the end user (``global``) or every
    other one (``others``)."""
    if scope not in SIGNOUT_SCOPES:
        raise ValidationError({"scope": f"One of {', '.join(SIGNOUT_SCOPES)}."})
    with acting_for(project):
        if scope == "local":
            sessions = list(
                Session.objects.select_for_update().filter(
                    pk=session_id, end_user_id=end_user_id, project_id=project.id
                )
            )
            reason = RevokeReason.LOGOUT
        else:
            exclude = session_id if scope == "others" else None
            sessions = revocation.live_sessions(end_user_id=end_user_id, exclude=exclude)
            reason = RevokeReason.LOGOUT_ALL
        count = revocation.revoke(sessions, reason=reason)
        audit_record(
            action=AuditAction.END_USER_SIGNOUT,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user_id,
            metadata={"scope": scope, "sessions": count},
        )
        return count


def end_user_sessions_revoke_all(*, project, end_user_id, reason: str, exclude=None) -> int:
    """Every live session of the end user, in the caller's context (a developer's org, or the
    project's service role): PostgreSQL first, then the Redis tombstones."""
    return revocation.revoke(
        revocation.live_sessions(end_user_id=end_user_id, exclude=exclude), reason=reason
    )
