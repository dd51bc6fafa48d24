"""End users of a project, and the project's sign-up settings.

An end user belongs to one project of one org and never has a membership: developers and end
users are different tables, different tokens and different row-level security policies.
Their sessions are ``authn.models.Session`` rows with ``end_user`` set, so rotation, reuse
detection, the Redis cache, revocation and warming are the ones developers' sessions use.
"""

import uuid

from django.db import models

from endusers.constants import SignupMode


class EndUser(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        "tenants.Project", on_delete=models.CASCADE, related_name="end_users"
    )
    # Lower-cased; empty for anonymous end users until they add one.
    email = models.CharField(max_length=254, blank=True, default="")
    password = models.CharField(max_length=128, blank=True, default="")
    is_anonymous = models.BooleanField(default=False)
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    banned_until = models.DateTimeField(null=True, blank=True)
    # Writable by the end user.
    user_metadata = models.JSONField(default=dict, blank=True)
    # Writable only by the secret key or a developer; ``roles`` feed the access rules.
    app_metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "project", "email"],
                condition=~models.Q(email=""),
                name="enduser_unique_project_email",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email or f"anonymous {self.id}"

    @property
    def app_roles(self) -> tuple[str, ...]:
        roles = (self.app_metadata or {}).get("roles") or []
        return tuple(sorted(r for r in roles if isinstance(r, str)))


class ProjectAuthSettings(models.Model):
    project = models.OneToOneField(
        "tenants.Project", on_delete=models.CASCADE, primary_key=True, related_name="auth_settings"
    )
    org = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    signup = models.CharField(max_length=8, choices=SignupMode.choices, default=SignupMode.OPEN)
    anonymous_sign_in = models.BooleanField(default=False)
    # Where links in verification and reset emails point (the app's own page).
    site_url = models.URLField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"auth settings of {self.project_id}"
