from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from observability import gauges, redis_alerts, tracing, tracking

        tracking.connect()
        redis_alerts.connect()
        gauges.register_builtin()
        tracing.setup()
