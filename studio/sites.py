"""The Studio: Django admin as the admin's home, with a navigation of its own.

Platform staff see everything (the tenant middleware gives them the platform RLS context under
/studio/). Org owners and admins may log in too; they see only the orgs they administer, through
the ``/studio/o/<org>/`` pages, where the tenant middleware checks membership and sets that
org's RLS context exactly as the API does (a foreign org is a 404). Every write made through
its pages records an audit event (``studio.audit``).
"""

from django.contrib import admin
from django.urls import NoReverseMatch, path, reverse

from studio import projects, views
from studio.audit import audited
from studio.forms import StudioAuthenticationForm
from studio.selectors import is_org_admin, is_platform_staff

# (label, url name or admin changelist "app_label.model", staff only)
NAVIGATION = [
    ("Overview", "admin:index", False),
    ("Orgs & members", "admin:studio-orgs", False),
    ("Users", "auth.user", True),
    ("Sessions", "authn.session", True),
    ("Audit log", "authn.auditevent", True),
    # Records (PostgreSQL) and documents (MongoDB) share one browser.
    ("Database", "admin:datastore_browser", False),
    ("Redis", "admin:studio-redis", True),
    ("Health", "admin:studio-health", True),
    ("Alerts", "observability.alert", True),
    ("Errors", "observability.errorgroup", True),
    ("Backups", "datastore.backuprun", True),
    ("Webhooks", "compute.webhookdelivery", True),
    ("Storage", "storage.storedobject", True),
]

# Pages that belong to a section without living under its URL.
SECTION_ALIASES = {
    "Orgs & members": ["/studio/o/", "/studio/tenants/"],
    "Users": ["/studio/auth/"],
    "Database": ["/studio/datastore/collection/"],
    "Webhooks": ["/studio/compute/"],
    "Storage": ["/studio/storage/"],
}


class StudioAdminSite(admin.AdminSite):
    site_header = "Platform Studio"
    site_title = "Studio"
    index_title = "Overview"
    login_form = StudioAuthenticationForm
    index_template = "studio/overview.html"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin page's writes are audited (``studio.audit``)."""
        admin_class = audited(admin_class or admin.ModelAdmin)
        return super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (is_platform_staff(user) or is_org_admin(user))

    def get_urls(self):
        custom = [
            path("orgs/", self.admin_view(views.orgs), name="studio-orgs"),
            path("o/<str:org>/", self.admin_view(views.org_home), name="studio-org"),
            *self._project_urls(),
            path("redis/", self.admin_view(views.redis_dashboard), name="studio-redis"),
            path("health/", self.admin_view(views.health), name="studio-health"),
        ]
        return custom + super().get_urls()

    def _project_urls(self):
        prefix = "o/<str:org>/p/<uuid:project>/"
        pages = [
            ("", projects.home, "studio-project-home"),
            ("keys/", projects.keys, "studio-project-keys"),
            ("keys/<uuid:key>/revoke/", projects.key_revoke, "studio-project-key-revoke"),
            ("keys/<uuid:key>/rotate/", projects.key_rotate, "studio-project-key-rotate"),
            ("auth/", projects.end_users, "studio-project-auth"),
            ("auth/users/<uuid:end_user>/", projects.end_user_detail, "studio-project-end-user"),
            ("auth/settings/", projects.auth_settings, "studio-project-auth-settings"),
            ("rules/", projects.rules, "studio-project-rules"),
            (
                "rules/<str:resource_type>/<uuid:resource_id>/",
                projects.resource_rules,
                "studio-project-resource-rules",
            ),
            (
                "rules/channel/<str:channel>/",
                projects.channel_rules,
                "studio-project-channel-rules",
            ),
            ("logs/", projects.logs, "studio-project-logs"),
        ]
        return [path(prefix + route, self.admin_view(v), name=name) for route, v, name in pages]

    def login(self, request, extra_context=None):
        """Django admin's login; a throttled attempt answers 429 with ``Retry-After``."""
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response

    def index(self, request, extra_context=None):
        return views.overview(request, self, extra_context)

    def each_context(self, request):
        context = super().each_context(request)
        context["studio_nav"] = self.navigation(request)
        return context

    def navigation(self, request) -> list[dict]:
        staff = is_platform_staff(request.user)
        index = reverse("admin:index")
        items = []
        for label, target, staff_only in NAVIGATION:
            if staff_only and not staff:
                continue
            url = _nav_url(target)
            if url is None:
                continue
            prefixes = [url, *SECTION_ALIASES.get(label, [])] if url != index else []
            active = request.path == url or any(request.path.startswith(p) for p in prefixes)
            items.append({"label": label, "url": url, "active": active})
        return items


def _nav_url(target: str) -> str | None:
    name = (
        target
        if target.startswith("admin:")
        else ("admin:{}_{}_changelist".format(*target.split(".")))
    )
    try:
        return reverse(name)
    except NoReverseMatch:  # that part of the platform is not installed
        return None
