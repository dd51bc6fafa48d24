from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from observability import gauges, tracing, tracking

        tracking.connect()
        gauges.register_builtin()
        tracing.setup()
