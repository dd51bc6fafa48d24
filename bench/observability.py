#!/usr/bin/env python3
"""What logging + metrics + tracing cost per request, as a throughput ratio.

    python bench/observability.py [--requests 2000] [--rounds 3]

Each variant runs in its own process (tracing patches libraries process-wide) and sends
``--requests`` authenticated GETs to an org-scoped API route that reads PostgreSQL through the
whole middleware stack, with Django's test client (no network in the measurement):

* ``bare``: no request logging, no Prometheus middleware, no request context, no tracing;
* ``logs+metrics-p99``: the default stack without the platform-wide latency histogram in
  Redis (``LATENCY_SAMPLE_RATE=0``);
* ``logs+metrics``: the default stack: django-structlog, access log (JSON, INFO), masking,
  django-prometheus, the route latency histogram and the platform-wide one in Redis (one
  pipelined round trip per request at the default sample rate 1.0);
* ``logs+metrics+tracing``: the same with OpenTelemetry on (Django, psycopg, redis, celery,
  httpx instrumented; spans batched to an in-memory exporter, so no collector is timed).

Uses ``DATABASE_URL`` / ``REDIS_URL`` when set, otherwise starts throwaway servers like
``make test`` does. Prints a Markdown table: best and median of the rounds (interleaved).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

VARIANTS = ["bare", "logs+metrics-p99", "logs+metrics", "logs+metrics+tracing"]
OBSERVABILITY_MIDDLEWARE = {
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "observability.middleware.RequestContextMiddleware",
}
ORG = "bench-observability"
USERNAME = "bench-observability@example.com"


def child(variant: str, requests: int) -> None:
    import logging

    import django

    os.environ["OTEL_ENABLED"] = "false"
    django.setup()
    from django.conf import settings
    from django.test import Client

    from authn.services import sessions

    if variant == "setup":
        from django.contrib.auth import get_user_model

        from tenants import services

        user, created = get_user_model().objects.get_or_create(username=USERNAME)
        if created:
            services.org_create(actor=user, name="Bench", slug=ORG)
        return
    if variant == "bare":
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m not in OBSERVABILITY_MIDDLEWARE]
        logging.getLogger().setLevel(logging.WARNING)
    if variant == "logs+metrics-p99":
        settings.LATENCY_SAMPLE_RATE = 0.0
    if variant.endswith("tracing"):
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from observability import tracing

        tracing.setup(span_processor=BatchSpanProcessor(InMemorySpanExporter()), force=True)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=USERNAME)
    # The access token of a live session, as login issues it.
    token = sessions.session_start(user=user).access
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/orgs/{ORG}/alerts"
    for _ in range(100):  # warm-up: pools, caches, first-request imports
        assert client.get(url).status_code == 200
    started = time.perf_counter()
    for _ in range(requests):
        client.get(url)
    elapsed = time.perf_counter() - started
    print(json.dumps({"variant": variant, "rps": requests / elapsed}), file=sys.__stdout__)


def run_variant(variant: str, requests: int, env: dict) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--requests", str(requests)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # log lines are rendered, then dropped
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["rps"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")
    if args.child:
        child(args.child, args.requests)
        return 0

    import devstack

    base = Path(tempfile.mkdtemp(prefix="bench-obs-"))
    base.chmod(0o755)
    stack = devstack.Stack()
    try:
        credentials = devstack.load_credentials(base / "credentials.json")
        env = {
            **os.environ,
            **devstack.start_services(base, credentials, durable=False, stack=stack),
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
            "PLATFORM_VAR_DIR": str(base),
        }
        devstack.manage(env, "migrate", "--no-input", "-v", "0")
        subprocess.run(
            [sys.executable, __file__, "--child", "setup"], env=env, cwd=ROOT, check=True
        )
        results: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:  # interleaved, so drift hits every variant alike
                results[variant].append(run_variant(variant, args.requests, env))
        # Best of the rounds is the run least disturbed by other load on the machine.
        best_bare = max(results["bare"])
        median_bare = statistics.median(results["bare"])
        print(f"\n{args.requests} requests x {args.rounds} rounds\n")
        print("| variant | best req/s | ratio (best) | median req/s | ratio (median) | rounds |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for variant in VARIANTS:
            best, median = max(results[variant]), statistics.median(results[variant])
            rounds = ", ".join(f"{r:.0f}" for r in results[variant])
            print(
                f"| {variant} | {best:.0f} | {best / best_bare:.2f} | {median:.0f} "
                f"| {median / median_bare:.2f} | {rounds} |"
            )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
