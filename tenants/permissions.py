"""Role-based permissions inside an org, plus django-guardian grants on single objects."""

from rest_framework import permissions

from tenants.constants import ROLE_PERMISSIONS


def has_org_perm(membership, perm: str, obj=None) -> bool:
    if membership is None:
        return False
    if perm in ROLE_PERMISSIONS.get(membership.role, frozenset()):
        return True
    # An object-level grant (django-guardian) lifts a lower role for one object.
    return obj is not None and membership.user.has_perm(f"tenants.{perm}", obj)


class OrgPermission(permissions.BasePermission):
    """Checks ``view.required_perms[action]`` against the request's membership.

    The tenant middleware has already refused non-members with 404, so here a member without
    the permission gets 403.
    """

    def has_permission(self, request, view) -> bool:
        perm = view.required_perms.get(getattr(view, "action", None) or request.method.lower())
        return perm is None or has_org_perm(request.membership, perm)

    def has_object_permission(self, request, view, obj) -> bool:
        perm = view.required_perms.get(getattr(view, "action", None) or request.method.lower())
        return perm is None or has_org_perm(request.membership, perm, obj)
