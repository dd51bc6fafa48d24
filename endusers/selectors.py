"""Reads of end users, their sessions and their project's auth settings.

Row-level security decides what a caller sees: a developer their org's end users, an end user
only itself, the project's service role (the auth services, the secret key) its project's.
"""

import uuid

from django.db.models import Q, QuerySet
from django.utils import timezone

from authn.models import Session
from endusers.models import EndUser, ProjectAuthSettings


def auth_settings_for(*, project) -> ProjectAuthSettings:
    """The project's settings; the defaults (unsaved) while nobody has changed them."""
    found = ProjectAuthSettings.objects.filter(project_id=project.id).first()
    return found or ProjectAuthSettings(project_id=project.id, org_id=project.org_id)


def end_user_list(*, project, search: str | None = None) -> QuerySet[EndUser]:
    qs = EndUser.objects.filter(org_id=project.org_id, project_id=project.id)
    if search:
        term = search.strip()
        match = Q(email__icontains=term.lower())
        try:
            match |= Q(id=uuid.UUID(term))
        except ValueError:
            pass
        qs = qs.filter(match)
    return qs.order_by("-created_at", "id")


def end_user_get(*, project, end_user_id) -> EndUser | None:
    return EndUser.objects.filter(
        org_id=project.org_id, project_id=project.id, pk=end_user_id
    ).first()


def end_user_by_email(*, project, email: str) -> EndUser | None:
    if not email:
        return None
    return EndUser.objects.filter(project_id=project.id, email=email).first()


def end_user_session_list(*, project, end_user) -> QuerySet[Session]:
    """The end user's live sessions, most recently active first."""
    return Session.objects.filter(
        project_id=project.id,
        end_user_id=end_user.pk,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-last_seen_at")
