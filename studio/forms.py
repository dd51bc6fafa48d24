"""The Studio's forms: the login (who may log in, the API login's abuse limits and audit
trail) and the forms of a project's pages (keys, end users, sign-up settings, access rules)."""

import re

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from access.constants import APP_ROLE_PATTERN, RuleKind
from authn import ratelimit, request_meta
from authn.services import accounts, sessions
from endusers.constants import SignupMode
from studio.selectors import is_org_admin, is_platform_staff
from tenants.context import TenantContext, set_tenant_context
from tenants.models import ProjectKey


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


# --- a project's pages ----------------------------------------------------------------------
BAN_CHOICES = [
    ("1", "1 hour"),
    ("24", "1 day"),
    ("168", "7 days"),
    ("720", "30 days"),
    ("876000", "Until unbanned (100 years)"),
]


class ApiKeyCreateForm(forms.Form):
    kind = forms.ChoiceField(choices=ProjectKey.Kind.choices)
    name = forms.CharField(max_length=120, required=False)


class EndUserBanForm(forms.Form):
    hours = forms.TypedChoiceField(choices=BAN_CHOICES, coerce=int, label="Ban for")


class AuthSettingsForm(forms.Form):
    signup = forms.ChoiceField(choices=SignupMode.choices, label="Sign-up")
    anonymous_sign_in = forms.BooleanField(required=False, label="Anonymous sign-in")
    site_url = forms.URLField(
        required=False, max_length=200, assume_scheme="https", label="Site URL"
    )


def rule_field_prefix(operation: str, role: str) -> str:
    return f"{operation}-{role}"


class RulesForm(forms.Form):
    """One row per operation x client role: the rule kind, its app role, its conditions (data
    API filters, one per line). ``access.services.rule_set`` validates and saves each cell."""

    def __init__(self, *args, operations, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.cells = []
        for operation in operations:
            for role in roles:
                prefix = rule_field_prefix(operation, role)
                self.fields[f"{prefix}-kind"] = forms.ChoiceField(
                    choices=RuleKind.choices, label=f"{operation} · {role}"
                )
                self.fields[f"{prefix}-app_role"] = forms.CharField(
                    max_length=40, required=False, label="App role"
                )
                self.fields[f"{prefix}-conditions"] = forms.CharField(
                    required=False,
                    max_length=2000,
                    label="Conditions",
                    widget=forms.Textarea(attrs={"rows": 2, "cols": 32}),
                )
                self.cells.append((operation, role, prefix))

    def cell_values(self, prefix: str) -> dict:
        data = self.cleaned_data
        return {
            "kind": data[f"{prefix}-kind"],
            "app_role": data[f"{prefix}-app_role"].strip(),
            "conditions": [
                line.strip() for line in data[f"{prefix}-conditions"].splitlines() if line.strip()
            ],
        }


class AppRolesForm(forms.Form):
    """An end user's ``app_metadata.roles``: names separated by commas or spaces (the rest of
    ``app_metadata`` is kept); ``endusers.services`` checks the names."""

    roles = forms.CharField(required=False, max_length=500, label="App roles")

    def clean_roles(self) -> list[str]:
        names = [name for name in self.cleaned_data["roles"].replace(",", " ").split() if name]
        bad = [name for name in names if not re.fullmatch(APP_ROLE_PATTERN, name)]
        if bad:
            raise ValidationError(
                f"Not a role name: {', '.join(bad)} (lowercase letters, digits, underscores)."
            )
        return names


class LogFilterForm(forms.Form):
    status = forms.RegexField(
        regex=r"^([1-5][0-9][0-9]|[1-5]xx)$",
        required=False,
        max_length=3,
        label="Status",
        help_text="404, or a class: 4xx",
    )
    route = forms.CharField(required=False, max_length=200, label="Route or path")
    end_user = forms.UUIDField(required=False, label="End user id")
    request_id = forms.CharField(required=False, max_length=128, label="Request id")


class TestAsForm(forms.Form):
    """Who a rules test runs as, and the data API list query it runs (its filter grammar)."""

    who = forms.CharField(max_length=40, initial="anon", label="Test as")
    query = forms.CharField(
        required=False,
        max_length=500,
        label="Query",
        help_text="The data API's list parameters, e.g. filter=done:eq:false&limit=5",
    )
