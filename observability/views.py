"""Health, metrics and error views (plain Django views: they must answer without a tenant).

``/health/live`` is public. ``/health/ready`` is public too, so load balancers can use it, but
an anonymous caller only learns the overall status and which dependencies pass or fail;
latencies, error texts, pool and breaker details go to operators (``observability.access``).
With a read replica configured, ``/health/ready`` has a ``replica`` section (lag, state) for
everyone; a lagging or unreachable replica makes the platform degraded, never unready.
``/health/redis``, ``/health/errors``, ``/health/alerts`` and ``/metrics`` are for operators.
"""

import prometheus_client
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from observability import metrics as obs_metrics
from observability import selectors
from observability.access import is_operator
from observability.health import details, readiness_checks, redis_detail
from platform_site.errors import error_response
from tenants.middleware import tenant_exempt
from tenants.replicas import replica_status


def _forbidden(request):
    return error_response(request, 403, "permission_denied", "Operators only.")


@tenant_exempt
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@tenant_exempt
@require_GET
def ready(request):
    checks = readiness_checks()
    ok = all(check.ok for check in checks)
    body: dict = {
        "status": "ok" if ok else "unavailable",
        "failing": [c.name for c in checks if not c.ok],
    }
    # Degraded, not failing: above its max lag the replica's reads go to the primary.
    replica = replica_status()
    if replica.state != "not_configured":
        body["replica"] = replica.as_dict()
        if not is_operator(request):
            body["replica"]["detail"] = ""  # error texts are for operators
        if not replica.usable:
            body["degraded"] = ["replica"]
    if is_operator(request):
        body["checks"] = {c.name: c.as_dict() for c in checks}
        body["details"] = details()
    else:
        body["checks"] = {c.name: {"ok": c.ok} for c in checks}
    return JsonResponse(body, status=200 if ok else 503)


@tenant_exempt
@require_GET
def redis_health(request):
    if not is_operator(request):
        return _forbidden(request)
    detail = redis_detail()
    return JsonResponse(detail, status=200 if detail.get("ok") else 503)


@tenant_exempt
@require_GET
def metrics(request):
    if not is_operator(request):
        return _forbidden(request)
    page = prometheus_client.generate_latest(obs_metrics.scrape_registry())
    return HttpResponse(page, content_type=prometheus_client.CONTENT_TYPE_LATEST)


@tenant_exempt
@require_GET
def errors(request):
    """The rolling 24 h view of error groups, most recent first."""
    if not is_operator(request):
        return _forbidden(request)
    groups = selectors.error_groups_recent()
    return JsonResponse(
        {
            "errors": [
                {
                    "fingerprint": g.fingerprint,
                    "source": g.source,
                    "type": g.exc_type,
                    "location": g.location,
                    "message": g.message,
                    "count": g.count,
                    "count_24h": g.count_24h,
                    "first_seen": g.first_seen.isoformat(),
                    "last_seen": g.last_seen.isoformat(),
                    "sample_request_id": g.sample_request_id,
                    "sample_org_id": str(g.sample_org_id) if g.sample_org_id else None,
                }
                for g in groups
            ]
        }
    )


@tenant_exempt
@require_GET
def recent_alerts(request):
    """Recent alerts of the whole platform (every org and the platform's own), newest first."""
    if not is_operator(request):
        return _forbidden(request)
    from observability.api.serializers import AlertSerializer

    rows = AlertSerializer(selectors.alerts_recent_platform(), many=True).data
    return JsonResponse({"alerts": rows})
