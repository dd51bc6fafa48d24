"""Reads for the Studio: which orgs a person may administer there, a project's usage and
request log."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from endusers import selectors as enduser_selectors
from functions import selectors as functions_selectors
from observability import request_log
from observability import selectors as observability_selectors
from storage import selectors as storage_selectors
from tenants.constants import USE_STUDIO
from tenants.models import Membership, Organization, Project
from tenants.permissions import roles_with_perm


def is_platform_staff(user) -> bool:
    return bool(user.is_active and user.is_staff)


def administered_memberships(*, user) -> QuerySet[Membership]:
    """Memberships through which ``user`` administers an org (a role with ``USE_STUDIO``)."""
    return (
        Membership.objects.filter(user=user, role__in=roles_with_perm(USE_STUDIO))
        .select_related("org")
        .order_by("org__name")
    )


def is_org_admin(user) -> bool:
    return user.is_active and administered_memberships(user=user).exists()


def studio_orgs(*, user) -> QuerySet[Organization]:
    """Orgs shown in the Studio: all of them for staff (RLS platform context), else the ones
    the user administers."""
    if is_platform_staff(user):
        return Organization.objects.order_by("name")
    return Organization.objects.filter(
        memberships__user=user, memberships__role__in=roles_with_perm(USE_STUDIO)
    ).order_by("name")


def platform_counts() -> dict:
    """Totals for the staff overview (read in the Studio's platform RLS context)."""
    return {
        "user_count": get_user_model().objects.count(),
        "project_count": Project.objects.count(),
    }


def project_usage(*, project) -> dict:
    """A project's last 24 hours: client requests (the request log's hourly counters, None
    while Redis is down), end users (all, and signed in), stored bytes and function
    invocations. Read under the Studio member's RLS context."""
    since = timezone.now() - timedelta(hours=24)
    end_users = enduser_selectors.end_user_list(project=project).aggregate(
        total=Count("id"), active=Count("id", filter=Q(last_sign_in_at__gte=since))
    )
    stored = storage_selectors.bucket_list(project=project).aggregate(
        bytes=Sum("stored_objects__size"), objects=Count("stored_objects")
    )
    invocations = functions_selectors.function_list(project=project).aggregate(
        total=Count("invocations", filter=Q(invocations__created_at__gte=since)),
        failed=Count(
            "invocations",
            filter=Q(invocations__created_at__gte=since) & ~Q(invocations__exit_reason="ok"),
        ),
    )
    return {
        "requests": request_log.requests_last_24h(project_id=project.id),
        "end_users": end_users["total"],
        "end_users_active": end_users["active"],
        "storage_bytes": stored["bytes"] or 0,
        "storage_objects": stored["objects"],
        "invocations": invocations["total"],
        "invocations_failed": invocations["failed"],
    }


def project_requests(
    *, project, status: str = "", route: str = "", end_user=None, request_id: str = ""
) -> tuple[list[dict], int]:
    """The project's logged client requests, newest first, that match every filter given
    (status: ``404`` or a class such as ``5xx``; route: a substring), and how many were
    scanned. Raises ``RedisUnavailable``."""
    entries = request_log.entries(project_id=project.id)
    status = (status or "").lower()

    def keep(entry: dict) -> bool:
        if status and not (
            entry["status"] == status
            or (status.endswith("xx") and entry["status"].startswith(status[0]))
        ):
            return False
        if route and route not in entry["route"] and route not in entry["path"]:
            return False
        if end_user and entry["end_user"] != str(end_user):
            return False
        return not request_id or entry["request_id"] == request_id

    return [e for e in entries if keep(e)], len(entries)


def error_groups_of(*, org, request_ids) -> dict:
    return observability_selectors.error_groups_by_request(org_id=org.id, request_ids=request_ids)
