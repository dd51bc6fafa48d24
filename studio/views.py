"""Studio pages. Each renders inside the admin's layout with the Studio navigation."""

from django.contrib import admin
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse

from studio import dashboard, selectors
from tenants import selectors as tenant_selectors
from tenants.constants import USE_STUDIO
from tenants.permissions import has_org_perm


def _render(request, template: str, title: str, **context):
    return TemplateResponse(
        request, template, {**admin.site.each_context(request), "title": title, **context}
    )


def overview(request, site, extra_context=None):
    staff = selectors.is_platform_staff(request.user)
    orgs = selectors.studio_orgs(user=request.user).annotate(members=Count("memberships"))
    context = {"orgs": orgs[:20], "org_count": orgs.count(), "staff": staff}
    if staff:
        context.update(selectors.platform_counts())
        context["health"] = dashboard.health_frame()
    context.update(extra_context or {})
    return _render(request, "studio/overview.html", "Overview", **context)


def orgs(request):
    rows = selectors.studio_orgs(user=request.user).annotate(members=Count("memberships"))
    return _render(request, "studio/orgs.html", "Orgs & members", orgs=rows)


def org_home(request, org):
    """One org's members and projects, under that org's RLS context (set by the middleware)."""
    staff = selectors.is_platform_staff(request.user)
    if not staff and not has_org_perm(request.membership, USE_STUDIO):
        raise Http404("No such organization.")
    return _render(
        request,
        "studio/org.html",
        request.org.name,
        org=request.org,
        members=tenant_selectors.member_list(org=request.org),
        projects=tenant_selectors.project_list(org=request.org),
    )


def _staff_only(request) -> None:
    if not selectors.is_platform_staff(request.user):
        raise Http404


def redis_dashboard(request):
    _staff_only(request)
    return _render(
        request,
        "studio/redis.html",
        "Redis",
        frame=dashboard.redis_frame(),
        alerts=dashboard.alerts_frame(),
    )


def health(request):
    _staff_only(request)
    return _render(
        request,
        "studio/health.html",
        "Health",
        health=dashboard.health_frame(),
        replica=dashboard.replica_frame(),
        redis=dashboard.redis_frame(),
        latency=dashboard.latency_frame(),
    )
