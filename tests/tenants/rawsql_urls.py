"""A test-only route that runs raw SQL on the app connection inside the request's context."""

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path

TABLES = {
    "project": "tenants_project",
    "membership": "tenants_membership",
    "organization": "tenants_organization",
}


def raw_count(request, org, table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLES[table]}")  # no WHERE clause on purpose
        (count,) = cursor.fetchone()
        cursor.execute("SELECT current_setting('app.org_id', true), current_user")
        org_setting, role = cursor.fetchone()
    return JsonResponse({"count": count, "org_setting": org_setting, "role": role})


urlpatterns = [
    path("api/v1/orgs/<str:org>/rawcount/<str:table>", raw_count),
    path("", include("platform_site.urls")),
]
