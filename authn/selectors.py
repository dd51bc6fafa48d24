"""Reads of the auth service. ``Session`` rows are visible to their own user (RLS)."""

from django.db.models import QuerySet
from django.utils import timezone

from authn.models import AccountState, Session


def session_list_live(*, user) -> QuerySet[Session]:
    return Session.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-last_seen_at")


def account_state(*, user) -> AccountState | None:
    return AccountState.objects.filter(user=user).first()
