"""Reads of a project's end users, their sessions and the project's sign-up settings, for the
project's developers (the org's RLS context: every row of the org's projects is visible)."""

from django.db.models import QuerySet

from authn.models import Session
from endusers.models import EndUser, ProjectAuthSettings

MAX_SEARCH = 254


def end_user_list(*, project, search: str = "") -> QuerySet[EndUser]:
    """The project's end users, newest first; ``search`` matches part of the email."""
    queryset = EndUser.objects.filter(org_id=project.org_id, project=project)
    search = (search or "").strip()[:MAX_SEARCH]
    if search:
        queryset = queryset.filter(email__icontains=search.lower())
    return queryset.order_by("-created_at")


def end_user_get(*, project, end_user_id) -> EndUser | None:
    return EndUser.objects.filter(org_id=project.org_id, project=project, pk=end_user_id).first()


def end_user_session_list(*, end_user) -> QuerySet[Session]:
    """All sessions of the end user (live and ended), the latest used first."""
    return Session.objects.filter(
        org_id=end_user.org_id, project_id=end_user.project_id, end_user=end_user
    ).order_by("-last_seen_at")


def auth_settings_for(*, project) -> ProjectAuthSettings:
    """The project's sign-up settings; the defaults (unsaved) if none were ever set."""
    found = ProjectAuthSettings.objects.filter(org_id=project.org_id, project=project).first()
    return found or ProjectAuthSettings(project=project, org_id=project.org_id)
