from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from studio.selectors import is_org_admin, is_platform_staff
from tenants.context import TenantContext, set_tenant_context


class StudioAuthenticationForm(AdminAuthenticationForm):
    """Platform staff and org owners/admins may log into the Studio."""

    def confirm_login_allowed(self, user):
        # The password has just been checked: the memberships RLS shows are this user's.
        set_tenant_context(TenantContext(user_id=user.pk))
        if not user.is_active or not (is_platform_staff(user) or is_org_admin(user)):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )
