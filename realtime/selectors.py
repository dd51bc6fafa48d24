"""Reads the realtime consumers make (synchronous; consumers wrap them for the event loop)."""

from django.contrib.auth import get_user_model

from tenants import selectors as tenant_selectors
from tenants.context import TenantContext, tenant_context


def membership_role(*, user_id: int, org_ref: str) -> tuple[str, str] | None:
    """(org id, role) of the user's membership in the org named by slug or id, or None."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    with tenant_context(TenantContext(user_id=user_id)):
        membership = tenant_selectors.membership_for(user=user, org_ref=str(org_ref))
        if membership is None:
            return None
        return str(membership.org_id), membership.role
