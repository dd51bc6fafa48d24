"""Writes for orgs, members and projects.

Each service takes the acting user, validates, runs in one transaction with the tenant
context of the org it writes to, refuses what the actor's role does not allow, and records
one audit event.
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify
from guardian.shortcuts import assign_perm

from authn.audit import audit_org_write, audit_record
from authn.constants import AuditAction
from platform_site.errors import unique_violation_is_invalid
from tenants import constants
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tenants.models import Invitation, Membership, Organization, Project, ProjectKey
from tenants.permissions import require_org_perm
from tenants.selectors import api_key_hash
from tenants.signals import membership_changed

User = get_user_model()
SLUG_TAKEN = "This slug is taken; choose another."
PROJECT_NAME_TAKEN = "A project with this name already exists."


def _context_for(org_id, actor, role=None) -> None:
    set_tenant_context(TenantContext(org_id=org_id, user_id=actor.pk, role=role))


def _clean_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"One of {', '.join(Role.values)}."})


@transaction.atomic
def org_create(*, actor, name: str, slug: str | None = None) -> Organization:
    """Create an org; its creator becomes its owner."""
    slug = slug or slugify(name)[:63]
    if not slug:
        raise ValidationError({"slug": "A slug is required (letters, digits, hyphens)."})
    org = Organization(id=uuid.uuid4(), name=name, slug=slug)
    # Slugs are unique across all orgs, most of which RLS hides from the actor: only the
    # unique index can tell, and the answer must not depend on whose org holds the slug.
    org.full_clean(validate_unique=False)
    # The new org's id is the context, so the RLS WITH CHECK lets exactly this row in.
    _context_for(org.id, actor, Role.OWNER)
    with unique_violation_is_invalid("slug", SLUG_TAKEN):
        org.save(force_insert=True)
    Membership.objects.create(org=org, user=actor, role=Role.OWNER)
    audit_record(
        action=AuditAction.ORG_CREATE,
        actor_id=actor.pk,
        org_id=org.id,
        target_type="organization",
        target_id=org.id,
    )
    return org


@transaction.atomic
def org_update(*, membership: Membership, name: str | None = None, slug: str | None = None):
    require_org_perm(membership, constants.CHANGE_ORG)
    org = membership.org
    if name is not None:
        org.name = name
    if slug is not None:
        org.slug = slug
    org.full_clean(validate_unique=False)  # see org_create
    with unique_violation_is_invalid("slug", SLUG_TAKEN):
        org.save()
    audit_org_write(
        membership=membership,
        action=AuditAction.ORG_UPDATE,
        target=org,
        metadata={"name": org.name, "slug": org.slug},
    )
    return org


@transaction.atomic
def org_delete(*, membership: Membership) -> None:
    require_org_perm(membership, constants.DELETE_ORG)
    org = membership.org
    audit_org_write(
        membership=membership,
        action=AuditAction.ORG_DELETE,
        target=org,
        metadata={"slug": org.slug},
    )
    org.delete()


@transaction.atomic
def member_add(*, membership: Membership, email: str, role: str = Role.VIEWER) -> Membership:
    """Add an existing user, found by email, to the actor's org."""
    require_org_perm(membership, constants.MANAGE_MEMBERS)
    _clean_role(role)
    if role == Role.OWNER:
        require_org_perm(membership, constants.MANAGE_OWNERS)
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        raise ValidationError({"email": "No active user has this email."})
    if Membership.objects.filter(org=membership.org, user=user).exists():
        raise ValidationError({"email": "This user is already a member."})
    with unique_violation_is_invalid("email", "This user is already a member."):
        member = Membership.objects.create(org=membership.org, user=user, role=role)
    audit_org_write(
        membership=membership,
        action=AuditAction.MEMBER_ADD,
        target=member,
        metadata={"user_id": user.pk, "role": role},
    )
    return member


@transaction.atomic
def member_change_role(*, membership: Membership, target: Membership, role: str) -> Membership:
    require_org_perm(membership, constants.MANAGE_MEMBERS)
    _clean_role(role)
    if Role.OWNER in (role, target.role):
        require_org_perm(membership, constants.MANAGE_OWNERS)
    # Lock the org's owners so two concurrent demotions cannot both pass the last-owner check.
    owners = list(Membership.objects.select_for_update().filter(org=target.org, role=Role.OWNER))
    if target.role == Role.OWNER and role != Role.OWNER and len(owners) <= 1:
        raise ValidationError({"role": "The last owner cannot be demoted."})
    previous, target.role = target.role, role
    target.save(update_fields=["role"])
    audit_org_write(
        membership=membership,
        action=AuditAction.ROLE_CHANGE,
        target=target,
        metadata={"user_id": target.user_id, "from": previous, "to": role},
    )
    _announce_membership(target)
    return target


@transaction.atomic
def member_remove(*, membership: Membership, target: Membership) -> None:
    if target.user_id != membership.user_id:  # leaving an org needs no permission
        require_org_perm(membership, constants.MANAGE_MEMBERS)
        if target.role == Role.OWNER:
            require_org_perm(membership, constants.MANAGE_OWNERS)
    owners = list(Membership.objects.select_for_update().filter(org=target.org, role=Role.OWNER))
    if target.role == Role.OWNER and len(owners) <= 1:
        raise ValidationError({"user": "The last owner cannot be removed."})
    audit_org_write(
        membership=membership,
        action=AuditAction.MEMBER_REMOVE,
        target=target,
        metadata={"user_id": target.user_id, "role": target.role},
    )
    _announce_membership(target)
    target.delete()


def _announce_membership(target: Membership) -> None:
    org_id, user_id = target.org_id, target.user_id
    transaction.on_commit(
        lambda: membership_changed.send(sender=Membership, org_id=org_id, user_id=user_id)
    )


@transaction.atomic
def project_create(*, membership: Membership, name: str, description: str = "") -> Project:
    require_org_perm(membership, constants.ADD_PROJECT)
    project = Project(
        org=membership.org, name=name, description=description, created_by=membership.user
    )
    project.full_clean(validate_constraints=False)  # the unique index decides
    with unique_violation_is_invalid("name", PROJECT_NAME_TAKEN):
        project.save()
    audit_org_write(membership=membership, action=AuditAction.PROJECT_CREATE, target=project)
    return project


@transaction.atomic
def project_update(*, membership: Membership, project: Project, **fields) -> Project:
    require_org_perm(membership, constants.CHANGE_PROJECT, project)
    for field, value in fields.items():
        setattr(project, field, value)
    project.full_clean(validate_constraints=False)
    with unique_violation_is_invalid("name", PROJECT_NAME_TAKEN):
        project.save()
    audit_org_write(
        membership=membership,
        action=AuditAction.PROJECT_UPDATE,
        target=project,
        metadata={"fields": sorted(fields)},
    )
    return project


@transaction.atomic
def project_delete(*, membership: Membership, project: Project) -> None:
    require_org_perm(membership, constants.DELETE_PROJECT, project)
    audit_org_write(membership=membership, action=AuditAction.PROJECT_DELETE, target=project)
    project.delete()


@transaction.atomic
def project_grant(*, membership: Membership, project: Project, user, perm: str) -> None:
    """Give one member an object-level permission on one project (django-guardian)."""
    require_org_perm(membership, constants.MANAGE_MEMBERS)
    if not Membership.objects.filter(org=project.org, user=user).exists():
        raise ValidationError({"user": "Only members of the org can be granted access."})
    assign_perm(f"tenants.{perm}", user, project)
    audit_org_write(
        membership=membership,
        action=AuditAction.PROJECT_GRANT,
        target=project,
        metadata={"user_id": user.pk, "perm": perm},
    )


INVITATION_TTL = timedelta(days=7)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def member_invite(
    *, membership: Membership, email: str, role: str = Role.VIEWER, accept_url: str = ""
) -> tuple[Invitation, str]:
    """Invite someone by email; returns the invitation and its token (sent, never stored)."""
    require_org_perm(membership, constants.MANAGE_MEMBERS)
    _clean_role(role)
    if role == Role.OWNER:
        require_org_perm(membership, constants.MANAGE_OWNERS)
    email = email.strip().lower()
    if Membership.objects.filter(org=membership.org, user__email__iexact=email).exists():
        raise ValidationError({"email": "This person is already a member."})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        org=membership.org,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=membership.user,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    audit_org_write(
        membership=membership,
        action=AuditAction.INVITATION_CREATE,
        target=invitation,
        metadata={"role": role},
    )
    link = f"{accept_url}?token={token}" if accept_url else token
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {membership.org.name}",
            message=(
                f"{membership.user.email} invited you to join {membership.org.name} as "
                f"{role}.\n\nAccept: {link}\n\nThis invitation expires in 7 days."
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation, token


@transaction.atomic
def invitation_accept(*, user, token: str) -> Membership:
    """Join the org an invitation was addressed to, as the invited role.

    Row-level security shows a user only the invitations sent to their own email, so a
    token forwarded to somebody else finds nothing.
    """
    # No join to the org here: the invitee cannot see the org row until they are a member.
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_token_hash(token)).first()
    )
    if invitation is None:
        raise Http404("No invitation for you matches this token.")
    if invitation.accepted_at is not None:
        raise ValidationError({"token": "This invitation was already accepted."})
    if invitation.expires_at <= timezone.now():
        raise ValidationError({"token": "This invitation has expired."})
    _context_for(invitation.org_id, user, invitation.role)
    if Membership.objects.filter(org_id=invitation.org_id, user=user).exists():
        raise ValidationError({"token": "You are already a member of this org."})
    member = Membership.objects.create(org_id=invitation.org_id, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_org_write(
        membership=member,
        action=AuditAction.INVITATION_ACCEPT,
        target=invitation,
        metadata={"role": invitation.role},
    )
    return member


@transaction.atomic
def invitation_revoke(*, membership: Membership, invitation: Invitation) -> None:
    require_org_perm(membership, constants.MANAGE_MEMBERS)
    audit_org_write(membership=membership, action=AuditAction.INVITATION_REVOKE, target=invitation)
    invitation.delete()


# --- project API keys -------------------------------------------------------------------------
KEY_PREFIXES = {
    ProjectKey.Kind.PUBLISHABLE: "sb_publishable_",
    ProjectKey.Kind.SECRET: "sb_secret_",
}
KEY_VISIBLE_CHARS = 6  # of the random part, shown next to the prefix


@transaction.atomic
def api_key_create(
    *, membership: Membership, project: Project, kind: str, name: str = ""
) -> tuple[ProjectKey, str]:
    """A new key of ``project`` and its only copy in clear (shown once, never stored)."""
    require_org_perm(membership, constants.MANAGE_API_KEYS, project)
    if kind not in ProjectKey.Kind.values:
        raise ValidationError({"kind": f"One of {', '.join(ProjectKey.Kind.values)}."})
    if not isinstance(name, str) or len(name) > 120:
        raise ValidationError({"name": "At most 120 characters."})
    prefix = KEY_PREFIXES[kind]
    raw = prefix + secrets.token_urlsafe(24)
    key = ProjectKey.objects.create(
        org_id=project.org_id,
        project=project,
        kind=kind,
        name=name,
        prefix=raw[: len(prefix) + KEY_VISIBLE_CHARS],
        key_hash=api_key_hash(raw),
        created_by=membership.user,
    )
    audit_org_write(
        membership=membership,
        action=AuditAction.API_KEY_CREATE,
        target=key,
        metadata={"project": str(project.id), "kind": kind, "prefix": key.prefix},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, membership: Membership, key: ProjectKey) -> ProjectKey:
    """Refused from the next request on: keys are looked up in PostgreSQL on every request."""
    require_org_perm(membership, constants.MANAGE_API_KEYS, key.project)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_org_write(
            membership=membership,
            action=AuditAction.API_KEY_REVOKE,
            target=key,
            metadata={"project": str(key.project_id), "prefix": key.prefix},
        )
    return key


@transaction.atomic
def api_key_rotate(*, membership: Membership, key: ProjectKey) -> tuple[ProjectKey, str]:
    """A new key of the same kind and name, the old one revoked in the same transaction."""
    new_key, raw = api_key_create(
        membership=membership, project=key.project, kind=key.kind, name=key.name
    )
    api_key_revoke(membership=membership, key=key)
    return new_key, raw
