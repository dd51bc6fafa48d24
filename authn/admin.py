"""Auth management in the Studio: users, their orgs and roles, live sessions, audit trail.

Each admin action calls an ``authn.services`` function, so a revocation from the Studio
takes the same path (PostgreSQL first, then the Redis tombstone) as one from the API.
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone

from authn.constants import RevokeReason
from authn.models import AuditEvent, Session
from authn.services import accounts, sessions
from tenants.models import Membership

User = get_user_model()


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["org", "role", "created_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Orgs and roles"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class LiveSessionInline(admin.TabularInline):
    model = Session
    extra = 0
    fields = ["id", "created_at", "last_seen_at", "expires_at", "ip", "user_agent"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Live sessions"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["email", "is_active", "is_staff", "last_login", "live_sessions"]
    search_fields = ["email", "username", "first_name", "last_name"]
    inlines = [MembershipInline, LiveSessionInline]
    actions = ["revoke_all_sessions", "deactivate_users"]

    @admin.display(description="Live sessions")
    def live_sessions(self, obj) -> int:
        return obj.auth_sessions.filter(
            revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).count()

    @admin.action(description="Revoke all sessions of the selected users")
    def revoke_all_sessions(self, request, queryset):
        total = sum(
            sessions.user_sessions_revoke_all(actor=request.user, user=user) for user in queryset
        )
        self.message_user(request, f"Revoked {total} session(s).", messages.SUCCESS)

    @admin.action(description="Deactivate the selected users (and revoke their sessions)")
    def deactivate_users(self, request, queryset):
        users = [u for u in queryset if u.pk != request.user.pk]
        for user in users:
            accounts.user_deactivate(actor=request.user, user=user)
        self.message_user(request, f"Deactivated {len(users)} user(s).", messages.SUCCESS)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "last_seen_at", "expires_at", "ip", "revoked_at"]
    list_filter = ["revoked_at", "revoke_reason"]
    search_fields = ["user__email", "ip"]
    readonly_fields = [f.name for f in Session._meta.fields]
    actions = ["revoke_sessions"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected sessions")
    def revoke_sessions(self, request, queryset):
        revoked = 0
        for session in queryset.filter(revoked_at__isnull=True):
            try:
                sessions.session_revoke(
                    actor=request.user, session_id=session.pk, reason=RevokeReason.ADMIN
                )
            except sessions.NotFound:
                continue
            revoked += 1
        self.message_user(request, f"Revoked {revoked} session(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_id", "org_id", "target_type", "target_id", "ip"]
    list_filter = ["action"]
    search_fields = ["target_id", "request_id", "ip"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
