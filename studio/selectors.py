"""Reads for the Studio: which orgs a person may administer there."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from tenants.constants import USE_STUDIO
from tenants.models import Membership, Organization, Project
from tenants.permissions import roles_with_perm


def is_platform_staff(user) -> bool:
    return bool(user.is_active and user.is_staff)


def administered_memberships(*, user) -> QuerySet[Membership]:
    """Memberships through which ``user`` administers an org (a role with ``USE_STUDIO``)."""
    return (
        Membership.objects.filter(user=user, role__in=roles_with_perm(USE_STUDIO))
        .select_related("org")
        .order_by("org__name")
    )


def is_org_admin(user) -> bool:
    return user.is_active and administered_memberships(user=user).exists()


def studio_orgs(*, user) -> QuerySet[Organization]:
    """Orgs shown in the Studio: all of them for staff (RLS platform context), else the ones
    the user administers."""
    if is_platform_staff(user):
        return Organization.objects.order_by("name")
    return Organization.objects.filter(
        memberships__user=user, memberships__role__in=roles_with_perm(USE_STUDIO)
    ).order_by("name")


def platform_counts() -> dict:
    """Totals for the staff overview (read in the Studio's platform RLS context)."""
    return {
        "user_count": get_user_model().objects.count(),
        "project_count": Project.objects.count(),
    }
