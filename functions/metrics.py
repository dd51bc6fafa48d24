"""Prometheus metrics of function invocations (scraped with the platform's own)."""

from prometheus_client import Counter, Histogram

INVOCATIONS = Counter(
    "platform_function_invocations_total",
    "Function invocations by trigger and exit reason (ok, error, timeout, out_of_memory...).",
    ["trigger", "exit_reason"],
)
DURATION = Histogram(
    "platform_function_duration_seconds",
    "Function invocation wall-clock time, supervisor to last byte, by trigger.",
    ["trigger"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe(*, trigger: str, exit_reason: str, duration_ms: float | None) -> None:
    INVOCATIONS.labels(trigger, exit_reason).inc()
    if duration_ms is not None:
        DURATION.labels(trigger).observe(duration_ms / 1000)
