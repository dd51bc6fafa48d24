"""Server-side sessions, their refresh tokens, and the audit trail.

Tenancy and row-level security, decided per table:

* ``Session`` belongs to a user, not to an org (one login serves every org the user is a
  member of; the active org is only a claim in the access token). Its policy is on
  ``app_current_user()``: a request sees only its own user's sessions; the Studio (platform
  admin) and maintenance (cache warming) see all.
* ``RefreshToken`` has no RLS: a refresh request is anonymous until the presented token is
  found, and the lookup is by the SHA-256 of the token the caller holds. The table holds only
  hashes, no API lists it, and every use goes through ``authn.services``.
* ``AuditEvent`` is the platform's audit trail (``authn.audit``): auth events, org writes,
  Studio writes. It carries ``org_id`` when the event belongs to an org (a member's write, an
  org switch) and NULL for account events (login, logout). A request reads the events it
  acted in or was the target of, and an org's events while that org is in context; rows can
  be written with no org or into the org in context only.
* ``AccountState`` (email verified, password changed) is keyed by user like Django's own
  user table, which has no RLS either; only the auth services touch it.
* ``PendingCacheInvalidation`` lists sessions revoked while Redis was unreachable, so their
  cached copies are overwritten as soon as Redis answers again (see ``cache.sessions``).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from authn.constants import AuditAction, RevokeReason


class Session(models.Model):
    """One login. ``last_seen_at`` moves at login and at every refresh (an active client
    refreshes at least once per access-token lifetime), which is what cache warming ranks by."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A developer's session, or an end user's (then with its project and org).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="auth_sessions",
        null=True,
        blank=True,
    )
    # No database constraint: sessions are a platform table and end users a tenant table
    # (distributed by org_id on Citus, where a platform table cannot point into one; see
    # docs/scaling.md). Django still deletes an end user's sessions with it.
    end_user = models.ForeignKey(
        "endusers.EndUser",
        on_delete=models.CASCADE,
        related_name="sessions",
        null=True,
        blank=True,
        db_constraint=False,
    )
    org = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    project = models.ForeignKey(
        "tenants.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    active_org_id = models.UUIDField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(
        max_length=32, choices=RevokeReason.choices, blank=True, default=""
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, end_user__isnull=True, project__isnull=True)
                    | models.Q(user__isnull=True, end_user__isnull=False, project__isnull=False)
                ),
                name="session_developer_or_end_user",
            )
        ]
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="authn_sess_user_live"),
            models.Index(fields=["end_user", "revoked_at"], name="authn_sess_enduser_live"),
            models.Index(fields=["-last_seen_at"], name="authn_sess_last_seen"),
        ]
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"session {self.id} of {self.user_id or self.end_user_id}"

    @property
    def subject(self):
        """Who the session is of, as the session cache records it."""
        return self.user_id if self.user_id is not None else str(self.end_user_id)

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class RefreshToken(models.Model):
    """One refresh token of a session's family; only its SHA-256 is stored."""

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="refresh_tokens")
    user_id = models.BigIntegerField(null=True, blank=True)  # NULL: an end user's session
    token_hash = models.CharField(max_length=64, unique=True)
    parent = models.OneToOneField(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="child"
    )
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh token {self.pk} of session {self.session_id}"


class AuditEvent(models.Model):
    # A client-side id: the INSERT needs no RETURNING, so an anonymous event (failed login)
    # can be written although the app role could not read it back under RLS.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    org_id = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=32, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class AccountState(models.Model):
    """Auth facts about a user that Django's user model has no column for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="account_state",
    )
    email_verified_at = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"account state of {self.user_id}"


class PendingCacheInvalidation(models.Model):
    session_id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.session_id)
