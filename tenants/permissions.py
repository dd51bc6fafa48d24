"""The one permission check inside an org: the role's permissions (``ROLE_PERMISSIONS``),
plus django-guardian grants on single objects.

Services call ``require_org_perm`` before they write; API views declare per HTTP method what
they need (``OrgPermission``), so a refused request stops before any work.
"""

from django.core.exceptions import PermissionDenied
from rest_framework import permissions

from tenants.constants import ROLE_PERMISSIONS


def has_org_perm(membership, perm: str, obj=None) -> bool:
    if membership is None:
        return False
    if perm in ROLE_PERMISSIONS.get(membership.role, frozenset()):
        return True
    # An object-level grant (django-guardian) lifts a lower role for one object.
    return obj is not None and membership.user.has_perm(f"tenants.{perm}", obj)


def roles_with_perm(perm: str) -> list[str]:
    """The roles that carry ``perm``, for queries that filter memberships by permission."""
    return [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]


def require_org_perm(membership, perm: str, obj=None) -> None:
    """``PermissionDenied`` (HTTP 403) unless ``has_org_perm``."""
    if not has_org_perm(membership, perm, obj):
        raise PermissionDenied(f"Your role does not allow this ({perm}).")


class OrgPermission(permissions.BasePermission):
    """Checks ``view.required_perms[<HTTP method>]`` against the request's membership.

    Every handler a view has must be listed: ``None`` means the service decides alone (leaving
    an org, object-level grants on a project), and a method missing from the map is refused.
    The tenant middleware has already refused non-members with 404, so a member without the
    permission gets 403.
    """

    def has_permission(self, request, view) -> bool:
        method = request.method.lower()
        if method == "options":
            return True
        method = "get" if method == "head" else method
        if not hasattr(view, method):
            return True  # DRF answers 405
        if method not in view.required_perms:
            return False
        perm = view.required_perms[method]
        return perm is None or has_org_perm(request.membership, perm)
