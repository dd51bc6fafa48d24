from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outgoing HTTP"

    def ready(self) -> None:
        from outbound import destinations, fairness

        # A mistyped CIDR or rate stops the process at start, not the first delivery.
        try:
            destinations.allowed_networks()
            fairness.rate()
        except ValueError as exc:
            raise ImproperlyConfigured(f"OUTBOUND_* setting: {exc}") from exc
