"""Reads of the auth service. ``Session`` rows are visible to their own user (RLS)."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from authn.models import AccountState, AuditEvent, Session


def session_list_live(*, user) -> QuerySet[Session]:
    return Session.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-last_seen_at")


def account_state(*, user) -> AccountState | None:
    return AccountState.objects.filter(user=user).first()


def audit_events_for(*, user) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(actor_id=user.pk).order_by("-created_at")


def user_search(*, query: str = "") -> QuerySet:
    qs = get_user_model().objects.order_by("email")
    if query:
        qs = qs.filter(email__icontains=query)
    return qs
