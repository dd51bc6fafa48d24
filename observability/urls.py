from django.urls import path

from observability import views

urlpatterns = [
    path("health/live", views.live, name="health-live"),
    path("health/ready", views.ready, name="health-ready"),
    path("health/redis", views.redis_health, name="health-redis"),
    path("health/errors", views.errors, name="health-errors"),
    path("health/alerts", views.recent_alerts, name="health-alerts"),
    path("metrics", views.metrics, name="prometheus-metrics"),
]
