"""OpenTelemetry tracing: off by default, and then nothing is imported or patched.

On with ``OTEL_ENABLED=true`` (and not ``OTEL_SDK_DISABLED=true``). The exporter follows the
standard variables: ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc`` or ``http/protobuf``),
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``; the sampler follows
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``; ``OTEL_SERVICE_NAME`` names the service.
Spans carry ``platform.request_id`` and ``platform.org_id`` from the log context.
"""

import os

import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)
_enabled = False


def enabled() -> bool:
    return _enabled


def wanted() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(getattr(settings, "OTEL_ENABLED", False))


def _exporter():
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def setup(*, exporter=None, span_processor=None, force: bool = False) -> bool:
    """Install the tracer provider and instrumentations once. Returns whether tracing is on.

    ``exporter`` replaces the OTLP exporter (tests pass an in-memory one).
    """
    global _enabled
    if _enabled or not (force or wanted()):
        return _enabled
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "platform")})
    )
    provider.add_span_processor(_ContextAttributes())
    if span_processor is not None:
        provider.add_span_processor(span_processor)
    elif exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    _enabled = True
    logger.info("tracing_enabled")
    return True


def inject(headers: dict) -> None:
    """Add W3C ``traceparent``/``tracestate`` for the current span (no-op when off)."""
    if not _enabled:
        return
    from opentelemetry.propagate import inject as otel_inject

    otel_inject(headers)


def annotate_current_span(**attributes) -> None:
    """Put ``platform.<name>`` attributes on the active span (the request's server span)."""
    if not _enabled:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    for name, value in attributes.items():
        if value is not None:
            span.set_attribute(f"platform.{name}", str(value))


class _ContextAttributes:
    """Span processor copying request id and org id from the log context onto each span."""

    def on_start(self, span, parent_context=None):
        context = structlog.contextvars.get_contextvars()
        if context.get("request_id"):
            span.set_attribute("platform.request_id", str(context["request_id"]))
        if context.get("org_id"):
            span.set_attribute("platform.org_id", str(context["org_id"]))

    def on_end(self, span):
        pass

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True

    def _on_ending(self, span):
        pass
