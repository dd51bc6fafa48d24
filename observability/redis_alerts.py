"""What the Redis layer tells the alert rules: hot keys (a signal) and the server-wide cache
hit rate (a polled value), so those built-in rules have a source. The p99 latency rule reads
the shared request histogram (``observability.latency``)."""

from cache import metrics
from cache.breaker import RedisUnavailable
from cache.signals import hotkey_detected
from observability import alerts, latency


def on_hotkey(sender, *, key: str, rate: float, window: int, threshold: float, **kwargs) -> None:
    alerts.raise_event(
        "hotkey",
        key=key,
        value=rate,
        summary=f"Hot key {key}: {rate:.0f} accesses/s over {window}s (threshold {threshold:g})",
    )


def server_hit_rate() -> float | None:
    """Redis's own keyspace hit ratio: every app process's reads, not just this one's."""
    try:
        return metrics.server_stats()["server_hit_rate"]
    except RedisUnavailable:
        return None  # no data: the "Redis down" rule speaks for this case


def connect() -> None:
    hotkey_detected.connect(on_hotkey, dispatch_uid="observability.on_hotkey")
    alerts.register_signal("cache_hit_rate", server_hit_rate)
    alerts.register_signal("p99_latency_ms", latency.p99_latency_ms, windowed=True)
