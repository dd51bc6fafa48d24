"""Developers' writes on a project's end users: ban, unban, confirm the email, revoke sessions,
and the project's sign-up settings.

Each runs in one transaction in the acting member's RLS context (the org's policies: the
member sees the org's end users and their sessions, nothing of another org), checks the
member's permission (``MANAGE_END_USERS``), and records one audit row. Sessions end through
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
from endusers.constants import SignupMode
from endusers.models import EndUser, ProjectAuthSettings
from tenants.constants import MANAGE_END_USERS
from tenants.context import TenantContext, set_tenant_context
from tenants.permissions import require_org_perm


def _act_as(membership) -> None:
    set_tenant_context(
        TenantContext(org_id=membership.org_id, user_id=membership.user_id, role=membership.role)
    )


def _locked(end_user: EndUser) -> EndUser:
    return EndUser.objects.select_for_update().get(pk=end_user.pk, org_id=end_user.org_id)


def _revoke_all(end_user: EndUser, reason: str) -> int:
    live = list(
        Session.objects.select_for_update().filter(
            org_id=end_user.org_id,
            end_user=end_user,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
    )
    return revoke(live, reason=reason)


@transaction.atomic
def end_user_sessions_revoke(*, membership, end_user: EndUser) -> int:
    """End every live session of the end user; the number ended."""
    require_org_perm(membership, MANAGE_END_USERS, end_user.project)
    _act_as(membership)
    count = _revoke_all(end_user, RevokeReason.ADMIN)
    audit_org_write(
        membership=membership,
        action=AuditAction.END_USER_SESSION_REVOKE,
        target=end_user,
        metadata={"project": str(end_user.project_id), "sessions": count},
    )
    return count


@transaction.atomic
def end_user_ban(*, membership, end_user: EndUser, until: datetime) -> EndUser:
    """Banned until ``until`` (in the future): every session ends now, sign-in is refused."""
    require_org_perm(membership, MANAGE_END_USERS, end_user.project)
    if not isinstance(until, datetime) or until <= timezone.now():
        raise ValidationError({"banned_until": "A time in the future."})
    _act_as(membership)
    end_user = _locked(end_user)
    end_user.banned_until = until
    end_user.save(update_fields=["banned_until", "updated_at"])
    count = _revoke_all(end_user, RevokeReason.END_USER_BANNED)
    audit_org_write(
        membership=membership,
        action=AuditAction.END_USER_BAN,
        target=end_user,
        metadata={
            "project": str(end_user.project_id),
            "banned_until": until.isoformat(),
            "sessions": count,
        },
    )
    return end_user


@transaction.atomic
def end_user_unban(*, membership, end_user: EndUser) -> EndUser:
    require_org_perm(membership, MANAGE_END_USERS, end_user.project)
    _act_as(membership)
    end_user = _locked(end_user)
    if end_user.banned_until is not None:
        end_user.banned_until = None
        end_user.save(update_fields=["banned_until", "updated_at"])
        audit_org_write(
            membership=membership,
            action=AuditAction.END_USER_UPDATE,
            target=end_user,
            metadata={"project": str(end_user.project_id), "banned_until": None},
        )
    return end_user


@transaction.atomic
def end_user_confirm_email(*, membership, end_user: EndUser) -> EndUser:
    """Mark the end user's email as confirmed (a developer vouches for it)."""
    require_org_perm(membership, MANAGE_END_USERS, end_user.project)
    _act_as(membership)
    end_user = _locked(end_user)
    if not end_user.email:
        raise ValidationError({"email": "This end user has no email to confirm."})
    if end_user.email_confirmed_at is None:
        end_user.email_confirmed_at = timezone.now()
        end_user.save(update_fields=["email_confirmed_at", "updated_at"])
        audit_org_write(
            membership=membership,
            action=AuditAction.END_USER_EMAIL_VERIFIED,
            target=end_user,
            metadata={"project": str(end_user.project_id), "by": "developer"},
        )
    return end_user


@transaction.atomic
def auth_settings_update(
    *,
    membership,
    project,
    signup: str | None = None,
    anonymous_sign_in: bool | None = None,
    site_url: str | None = None,
) -> ProjectAuthSettings:
    """Change the project's sign-up settings (the row is created on first change)."""
    require_org_perm(membership, MANAGE_END_USERS, project)
    if signup is not None and signup not in SignupMode.values:
        raise ValidationError({"signup": f"One of {', '.join(SignupMode.values)}."})
    if anonymous_sign_in is not None and not isinstance(anonymous_sign_in, bool):
        raise ValidationError({"anonymous_sign_in": "true or false."})
    _act_as(membership)
    settings, _ = ProjectAuthSettings.objects.select_for_update().get_or_create(
        project=project, defaults={"org_id": project.org_id}
    )
    changes = {
        name: value
        for name, value in (
            ("signup", signup),
            ("anonymous_sign_in", anonymous_sign_in),
            ("site_url", site_url),
        )
        if value is not None and getattr(settings, name) != value
    }
    if changes:
        for name, value in changes.items():
            setattr(settings, name, value)
        settings.full_clean(exclude=["project", "org"])
        settings.save()
        audit_org_write(
            membership=membership,
            action=AuditAction.AUTH_SETTINGS_UPDATE,
            target=settings,
            metadata={"project": str(project.id), **changes},
        )
    return settings
