"""Developers' writes on a project's end users: ban and unban, confirm the email, revoke the
sessions, and the project's sign-up settings.

Each runs in one transaction in the acting member's RLS context (the org's policies: the
member sees the org's end users and their sessions, nothing of another org), checks the
member's permission (``MANAGE_END_USERS``) and records its audit rows. Sessions end through
``authn.services.revocation.revoke`` (PostgreSQL first, then the Redis tombstone), so a banned
end user's next request is refused.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authn.audit import audit_org_write
from authn.constants import AuditAction, RevokeReason
from authn.models import Session
from authn.services.revocation import revoke
from endusers import selectors
from endusers.models import EndUser, ProjectAuthSettings
from tenants.constants import MANAGE_END_USERS
from tenants.context import TenantContext, set_tenant_context
from tenants.permissions import require_org_perm

UNSET = object()


def _act_as(membership, project) -> None:
    require_org_perm(membership, MANAGE_END_USERS, project)
    set_tenant_context(
        TenantContext(org_id=membership.org_id, user_id=membership.user_id, role=membership.role)
    )


def _revoke_all(project, end_user: EndUser, reason: str) -> int:
    live = Session.objects.select_for_update().filter(
        org_id=project.org_id,
        project_id=project.id,
        end_user_id=end_user.pk,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    return revoke(list(live), reason=reason)


@transaction.atomic
def end_user_sessions_revoke(*, project, end_user: EndUser, membership) -> int:
    """End every live session of the end user; the number ended."""
    _act_as(membership, project)
    count = _revoke_all(project, end_user, RevokeReason.ADMIN)
    audit_org_write(
        membership=membership,
        action=AuditAction.END_USER_SESSION_REVOKE,
        target=end_user,
        metadata={"sessions_revoked": count},
    )
    return count


@transaction.atomic
def end_user_admin_update(
    *, project, end_user: EndUser, membership, banned_until=UNSET, email_confirmed=UNSET
) -> EndUser:
    """What only the project decides about an end user. A ban (``banned_until`` in the
    future) ends every session of the end user at once; ``None`` lifts it."""
    _act_as(membership, project)
    end_user = EndUser.objects.select_for_update().get(pk=end_user.pk, project_id=project.id)
    changed = []
    if email_confirmed is not UNSET:
        if not email_confirmed:
            end_user.email_confirmed_at = None
        elif not end_user.email:
            raise ValidationError({"email_confirmed": "This end user has no email to confirm."})
        elif end_user.email_confirmed_at is None:
            end_user.email_confirmed_at = timezone.now()
        changed.append("email_confirmed_at")
    if banned_until is not UNSET:
        if banned_until is not None and not isinstance(banned_until, datetime):
            raise ValidationError({"banned_until": "A date and time, or null."})
        end_user.banned_until = banned_until
        changed.append("banned_until")
    if not changed:
        return end_user
    end_user.save(update_fields=[*changed, "updated_at"])
    audit_org_write(
        membership=membership,
        action=AuditAction.END_USER_UPDATE,
        target=end_user,
        metadata={"fields": changed},
    )
    if end_user.banned_until is not None and end_user.banned_until > timezone.now():
        count = _revoke_all(project, end_user, RevokeReason.END_USER_BANNED)
        audit_org_write(
            membership=membership,
            action=AuditAction.END_USER_BAN,
            target=end_user,
            metadata={"until": end_user.banned_until.isoformat(), "sessions_revoked": count},
        )
    return end_user


@transaction.atomic
def auth_settings_update(*, membership, project, **fields) -> ProjectAuthSettings:
    """Change the project's sign-up settings (``signup``, ``anonymous_sign_in``,
    ``site_url``); the row is created on the first change."""
    _act_as(membership, project)
    unknown = set(fields) - {"signup", "anonymous_sign_in", "site_url"}
    if unknown:
        raise ValidationError({name: "Not a sign-up setting." for name in sorted(unknown)})
    current = selectors.auth_settings_for(project=project)
    for name, value in fields.items():
        setattr(current, name, value)
    current.full_clean(exclude=["project", "org"])
    current.save()
    audit_org_write(
        membership=membership,
        action=AuditAction.AUTH_SETTINGS_UPDATE,
        target=project,
        metadata={"fields": sorted(fields)},
    )
    return current
