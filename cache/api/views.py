"""Redis metrics for platform staff: JSON (with the last hour's series) and Prometheus text."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from cache import metrics


class RedisMetricsView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        summary="Redis metrics (staff only)",
        description="Client latency and hit rate, INFO, pool, replication, breaker, hotkeys, "
        "and the last hour of 5-second samples. Answers 200 with available=false while Redis "
        "is unreachable.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        metrics.sample()
        data = metrics.collect()
        data["series"] = metrics.series()
        return Response(data)


class RedisPrometheusView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        summary="Redis metrics in Prometheus text format (staff only)",
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request):
        metrics.sample()
        return HttpResponse(
            metrics.prometheus_text(metrics.collect()),
            content_type="text/plain; version=0.0.4; charset=utf-8",
        )
