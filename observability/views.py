"""Liveness and readiness endpoints (plain Django views: they must answer without auth)."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from datastore.selectors import pool_stats
from observability.health import readiness_checks
from tenants.middleware import tenant_exempt


@tenant_exempt
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@tenant_exempt
@require_GET
def ready(request):
    checks = readiness_checks()
    ok = all(check.ok for check in checks)
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "checks": {c.name: c.as_dict() for c in checks},
            "pool": pool_stats(),
        },
        status=200 if ok else 503,
    )
