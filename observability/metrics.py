"""Prometheus metrics of our own, next to django-prometheus's.

The request histogram is observed by ``RequestContextMiddleware``. Everything else (breaker
state, pool usage, queue depth, cache hit rate) is read at scrape time by a collector, so it
costs nothing per request. Other apps add gauges with ``register_gauge``.

Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set (see ``gunicorn.conf.py``), counters and
histograms live in per-worker files in that directory; ``scrape_registry()`` sums them across
workers and adds the scrape-time gauges, read by the worker that serves the scrape.
"""

import os
from collections.abc import Callable

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = structlog.get_logger(__name__)

REQUEST_LATENCY = Histogram(
    "platform_request_latency_seconds",
    "Request latency by route (URL pattern, not the raw path), method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# name -> (help, function returning {label tuple: value} or a plain number, label names)
_GAUGES: dict[str, tuple[str, Callable[[], object], tuple[str, ...]]] = {}


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_LATENCY.labels(route, method, f"{status // 100}xx").observe(seconds)


def register_gauge(
    name: str, help_text: str, func: Callable[[], object], labels: tuple[str, ...] = ()
) -> None:
    """Add a gauge computed at scrape time (e.g. the cache's hit rate, a pool's usage).

    ``func`` returns a number, or ``{(label values...): number}`` when ``labels`` is given;
    ``None`` means "no value now" and the gauge is left out of that scrape.
    """
    _GAUGES[name] = (help_text, func, labels)


class PlatformCollector:
    def collect(self):
        for name, (help_text, func, labels) in list(_GAUGES.items()):
            try:
                value = func()
            except Exception as exc:  # one broken source must not break the scrape
                logger.warning("metric_source_failed", metric=name, error=str(exc)[:200])
                continue
            if value is None:
                continue
            family = GaugeMetricFamily(name, help_text, labels=list(labels) or None)
            if labels:
                for label_values, number in value.items():
                    family.add_metric(list(label_values), float(number))
            else:
                family.add_metric([], float(value))
            yield family


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def scrape_registry():
    """What ``/metrics`` exports: this process's registry, or every worker's metrics summed."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_collector)
    return registry


_collector = PlatformCollector()
try:
    REGISTRY.register(_collector)
except ValueError:  # already registered (module reloaded)
    pass
