"""The Studio's login form: who may log in, and the API login's abuse limits and audit trail."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from authn import ratelimit, request_meta
from authn.services import accounts, sessions
from studio.selectors import is_org_admin, is_platform_staff
from tenants.context import TenantContext, set_tenant_context


class StudioAuthenticationForm(AdminAuthenticationForm):
    """Platform staff and org owners/admins may log into the Studio.

    Every attempt counts against the same per-IP and per-account limits as the API login
    (``AUTHN_RATE_LOGIN_*``, one limiter), before any password is hashed; a refused login
    writes the same ``login_failed`` audit row as the API's.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many login attempts. Try again in %(seconds)s seconds.",
    }
    retry_after: int | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()
        account = accounts.normalize_email(username)
        try:
            ratelimit.check("login", ip=request_meta.current().ip, account=account)
        except ratelimit.RateLimited as exc:
            self.retry_after = exc.retry_after
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"seconds": exc.retry_after},
            ) from None
        try:
            return super().clean()
        except ValidationError:
            sessions.login_failure_record(user=self.user_cache, username=username, via="studio")
            raise

    def confirm_login_allowed(self, user):
        # The password has just been checked: the memberships RLS shows are this user's.
        set_tenant_context(TenantContext(user_id=user.pk))
        if not user.is_active or not (is_platform_staff(user) or is_org_admin(user)):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )
