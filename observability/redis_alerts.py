"""What the Redis layer tells the alert rules: hot keys (a signal) and the server-wide cache
hit rate over the rule's window (a polled reading), so those built-in rules have a source. The
p99 latency rule reads the shared request histogram (``observability.latency``)."""

from cache import metrics
from cache.signals import hotkey_detected
from observability import alerts, latency


def on_hotkey(sender, *, key: str, rate: float, window: int, threshold: float, **kwargs) -> None:
    alerts.raise_event(
        "hotkey",
        key=key,
        value=rate,
        summary=f"Hot key {key}: {rate:.0f} accesses/s over {window}s (threshold {threshold:g})",
    )


def server_hit_rate(window_minutes: int = 15) -> alerts.Reading | None:
    """Redis's own keyspace hit ratio over the window: every app process's reads."""
    over = metrics.server_hit_rate_over(window_minutes * 60)
    if over is None:
        return None  # no data: the "Redis down" rule speaks for an outage
    return alerts.Reading(value=over[0], samples=over[1])


def p99_latency(window_minutes: int = 5) -> alerts.Reading | None:
    """The platform's API p99 over the window and the number of requests behind it."""
    summary = latency.summary(window_minutes)
    if summary["samples"] is None:
        return None  # Redis unavailable
    return alerts.Reading(value=summary["p99_ms"], samples=summary["samples"])


def connect() -> None:
    hotkey_detected.connect(on_hotkey, dispatch_uid="observability.on_hotkey")
    alerts.register_signal("cache_hit_rate", server_hit_rate, windowed=True)
    alerts.register_signal("p99_latency_ms", p99_latency, windowed=True)
