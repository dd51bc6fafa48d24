from django.urls import path

from cache.api.views import RedisMetricsView, RedisPrometheusView

urlpatterns = [
    path("admin/redis/metrics", RedisMetricsView.as_view(), name="redis-metrics"),
    path("admin/redis/metrics/prometheus", RedisPrometheusView.as_view(), name="redis-prometheus"),
]
