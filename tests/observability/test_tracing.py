"""OpenTelemetry: one request that writes a record and enqueues a task is one trace.

The web server (uvicorn) and a Celery worker run as real subprocesses with tracing on,
exporting OTLP/HTTP (protobuf) to a receiver started here; the trace context crosses into the
worker only through the task message's headers (W3C traceparent).
"""

import os
import subprocess
import sys
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tenants import services as tenant_services
from tests.factories import UserFactory
from tests.observability.conftest import ROOT, devstack, wait_until
from tests.tokens import access_token


class OtlpReceiver:
    def __init__(self):
        self.spans: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    service = {
                        a.key: a.value.string_value for a in resource_spans.resource.attributes
                    }.get("service.name")
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append(
                                {
                                    "service": service,
                                    "scope": scope_spans.scope.name,
                                    "name": span.name,
                                    "trace_id": span.trace_id.hex(),
                                    "attributes": {
                                        a.key: a.value.string_value for a in span.attributes
                                    },
                                }
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _traced_env(endpoint: str, service: str) -> dict:
    from django.conf import settings

    return {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,  # tokens minted here must verify there
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "OTEL_ENABLED": "true",
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


@pytest.fixture
def otlp():
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def _start(cmd, env, log_path):
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    return process


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()


@pytest.mark.slow
def test_request_task_and_queries_share_one_trace(committed, otlp, receiver, tmp_path):

    from observability import services as obs_services

    user = UserFactory()
    org = tenant_services.org_create(actor=user, name="Org A", slug="org-a")
    from tenants.context import TenantContext, tenant_context

    with tenant_context(TenantContext(org_id=org.id, user_id=user.pk)):
        membership = org.memberships.get(user=user)
        channel = obs_services.channel_create(
            membership=membership, name="hook", kind="webhook", target=receiver.url + "/hook"
        )
    bin_dir = Path(sys.executable).parent
    port = devstack.free_port()
    web = _start(
        [str(bin_dir / "uvicorn"), "platform_site.asgi:application", "--port", str(port)],
        _traced_env(otlp.url, "platform-web"),
        tmp_path / "web.log",
    )
    worker = _start(
        [
            str(bin_dir / "celery"),
            "-A",
            "platform_site",
            "worker",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        _traced_env(otlp.url, "platform-worker"),
        tmp_path / "worker.log",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _reachable(base + "/health/live"), timeout=60, interval=0.3)
        response = httpx.post(
            f"{base}/api/v1/orgs/org-a/alert-channels/{channel.id}/test",
            headers={
                "Authorization": f"Bearer {access_token(user)}",
                "X-Request-ID": "trace-req-1",
            },
            timeout=30,
        )
        assert response.status_code == 202, response.text
        wait_until(lambda: receiver.to("/hook"), timeout=60)
        # The webhook itself carried the trace onwards.
        traceparent = receiver.to("/hook")[0]["headers"]["traceparent"]
        trace_id = traceparent.split("-")[1]

        def spans_of_trace():
            spans = [s for s in otlp.spans if s["trace_id"] == trace_id]
            scopes = {s["scope"] for s in spans}
            run = any(s["name"].startswith("run/") for s in spans)
            return spans if run and len(scopes) >= 5 else None

        try:
            spans = wait_until(spans_of_trace, timeout=60, interval=0.3)
        except AssertionError:
            seen = sorted(
                {(s["service"], s["scope"], s["name"][:50], s["trace_id"][:8]) for s in otlp.spans}
            )
            raise AssertionError(f"trace {trace_id[:8]} incomplete; spans seen: {seen}") from None
    finally:
        _stop(web)
        _stop(worker)

    by_scope = defaultdict(list)
    for span in spans:
        by_scope[span["scope"].rsplit(".", 1)[-1]].append(span)
    assert {"django", "psycopg", "redis", "celery", "httpx"} <= set(by_scope), set(by_scope)
    assert {s["service"] for s in spans} == {"platform-web", "platform-worker"}
    celery_names = {s["name"] for s in by_scope["celery"]}
    assert "apply_async/observability.tasks.deliver_test_notification" in celery_names
    assert "run/observability.tasks.deliver_test_notification" in celery_names
    # The UPDATE of the channel row is one of the traced queries.
    assert any(
        "UPDATE" in s["name"] or "UPDATE" in str(s["attributes"]) for s in by_scope["psycopg"]
    )
    server_span = next(s for s in by_scope["django"] if s["service"] == "platform-web")
    assert server_span["attributes"]["platform.request_id"] == "trace-req-1"
    assert any(s["attributes"].get("platform.org_id") == str(org.id) for s in spans)


def _reachable(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_tracing_is_off_by_default_and_patches_nothing():
    # Off means: no SDK tracer provider, no instrumentation imported (so nothing patched),
    # no tracing middleware. (The OpenTelemetry API itself may be imported by other libraries.)
    code = (
        "import sys, django; django.setup();"
        "from django.conf import settings;"
        "from django.test import Client; Client().get('/health/live');"
        "from opentelemetry import trace; from observability import tracing;"
        "loaded = [m for m in sys.modules if m.startswith("
        "('opentelemetry.instrumentation', 'opentelemetry.sdk.trace'))];"
        "mw = [m for m in settings.MIDDLEWARE if 'opentelemetry' in m];"
        "print(tracing.enabled(), bool(loaded or mw),"
        " type(trace.get_tracer_provider()).__name__)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "platform_site.settings.test"}
    env.pop("OTEL_ENABLED", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "False False ProxyTracerProvider"
    disabled = {**env, "OTEL_ENABLED": "true", "OTEL_SDK_DISABLED": "true"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=disabled,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False False ProxyTracerProvider"


def test_grpc_exporter_delivers_spans_to_a_collector(monkeypatch):
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from observability import tracing

    received = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            received.extend(
                span.name
                for rs in request.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            )
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
        exporter = tracing._exporter()
        provider = TracerProvider()  # local: the process-wide provider stays untouched
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("test").start_as_current_span("grpc-export-check"):
            pass
        provider.shutdown()
    finally:
        server.stop(grace=None)
    assert received == ["grpc-export-check"]


def test_exporter_follows_the_standard_protocol_variable(monkeypatch):
    from observability import tracing

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    grpc = tracing._exporter()
    assert type(grpc).__module__ == "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
    grpc.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    http = tracing._exporter()
    assert type(http).__module__ == "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    http.shutdown()
