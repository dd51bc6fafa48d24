"""End users' sessions: ``authn.models.Session`` rows with ``end_user`` set.

An end user's session lives in the same table, with the same refresh-token family, Redis
cache, revocation tombstones and warming as a developer's; only the access token differs
(``endusers.tokens``: per project, ``role: authenticated``). The services act as the
project's service role (``acting_for``): the auth server of a project reads and writes its
end users, which no client-app caller can do by itself.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from access.constants import SERVICE_ROLE
from authn import request_meta
from authn import tokens as authn_tokens
from authn.models import RefreshToken, Session
from cache import sessions as session_cache
from endusers import tokens
from tenants.context import TenantContext, tenant_context


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
    session_cache.put_live(
        session.id, user_id=str(end_user.id), expires_at=session.expires_at.timestamp()
    )
    return issue(project=project, end_user=end_user, session=session, raw_refresh=raw)
