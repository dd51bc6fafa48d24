from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from observability import gauges, redis_alerts, tracing, tracking
        from tenants.roles import owner_only

        # Errors are written and read on the owner connection only, so a request that rolls
        # back still leaves its error behind; the app role never sees another org's.
        owner_only("observability_errorgroup", "observability_erroroccurrence")
        tracking.connect()
        redis_alerts.connect()
        gauges.register_builtin()
        tracing.setup()
