"""Health, readiness with real dependency failures, Redis detail, and access to metrics."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from observability import health
from tests.observability.conftest import ROOT, devstack, wait_until

pytestmark = pytest.mark.django_db


def test_live_is_public_and_echoes_request_id(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"
    replaced = client.get("/health/live", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32


def test_ready_is_public_but_details_are_for_operators(client, staff_client):
    anonymous = client.get("/health/ready")
    assert anonymous.status_code == 200, anonymous.content
    public = anonymous.json()
    assert (public["status"], public["failing"]) == ("ok", [])
    assert public["checks"]["postgres"] == {"ok": True}  # no latency, no error text
    assert "details" not in public

    detailed = staff_client.get("/health/ready").json()
    checks = detailed["checks"]
    assert set(checks) >= {"postgres", "redis", "migrations", "mongodb", "celery_broker"}
    assert all(c["ok"] and c["latency_ms"] >= 0 for c in checks.values())
    assert checks["redis"]["detail"] == "breaker closed"
    # No MongoDB server here: reported, not failing.
    assert checks["mongodb"]["configured"] is False
    assert "not configured" in checks["mongodb"]["detail"]
    pools = detailed["details"]["pools"]
    assert pools["postgres"]["max"] >= 1 and pools["redis"]["max"] >= 1
    assert "celery" in detailed["details"]["queues"]


def test_allow_listed_network_sees_details(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert "details" not in client.get("/health/ready").json()  # test client is 127.0.0.1
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert "details" in client.get("/health/ready").json()
    assert client.get("/metrics").status_code == 200


def test_mongodb_is_pinged_when_configured(client, settings):
    settings.MONGODB_URL = f"mongodb://127.0.0.1:{devstack.free_port()}/platform"
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["mongodb"]


def test_other_apps_can_register_checks_and_details(client, staff_client):
    def broken():
        raise RuntimeError("store unreachable")

    health.register_check("document_store", broken)
    health.register_detail("datastore_pool", lambda: {"in_use": 3})
    try:
        response = staff_client.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["document_store"]
        assert "store unreachable" in body["checks"]["document_store"]["detail"]
        assert body["details"]["datastore_pool"] == {"in_use": 3}
        assert client.get("/health/ready").json()["failing"] == ["document_store"]
    finally:
        health._CHECKS.pop("document_store")
        health._DETAILS.pop("datastore_pool")


def test_redis_detail_for_operators_only(client, staff_client):
    assert client.get("/health/redis").status_code == 403
    body = staff_client.get("/health/redis").json()
    assert body["ok"] is True
    assert body["role"] == "master"
    assert body["memory"]["used_bytes"] > 0
    assert body["breaker"]["state"] == "closed"
    assert body["pool"]["max"] >= 1


def test_metrics_need_an_operator_and_carry_our_series(client, staff_client, user, org, client_for):
    forbidden = client.get("/metrics")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "permission_denied"
    client_for(user).get("/api/v1/orgs/org-a/alerts")
    from django.core.cache import cache

    cache.set("obs-metrics-probe", 1)
    cache.get("obs-metrics-probe")  # one hit: the hit ratio has a value
    text = staff_client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_method_total" in text
    # Latency by route: the URL pattern, not the raw path (no org slug in the label).
    assert re.search(
        r'platform_request_latency_seconds_count\{method="GET",'
        r'route="[^"]*<org>[^"]*alerts[^"]*",status="2xx"\} [1-9]',
        text,
    ), text[:3000]
    assert "platform_redis_breaker_state 0.0" in text
    assert 'platform_db_pool_connections{alias="default",state="max"}' in text
    assert 'platform_redis_pool_connections{alias="default",state="in_use"}' in text
    assert 'platform_queue_depth{queue="celery"}' in text
    assert re.search(
        r"platform_redis_keyspace_hit_ratio 0?\.\d+|platform_redis_keyspace_hit_ratio 1\.0", text
    )


@pytest.mark.slow
def test_ready_turns_503_when_redis_stops_and_200_after_restart(client, own_redis):
    assert client.get("/health/ready").status_code == 200
    own_redis.stop()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert "redis" in response.json()["failing"]
    own_redis.start()
    # The breaker may be open for its reset timeout; readiness returns once it lets a call by.
    wait_until(lambda: client.get("/health/ready").status_code == 200, timeout=30, interval=0.5)


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


@pytest.mark.slow
def test_ready_turns_503_when_postgres_stops_and_200_after_restart(own_postgres, tmp_path):
    cluster, credentials, service_env = own_postgres
    env = {
        **os.environ,
        **service_env,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_TIMEOUT": "2",
    }
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    port = devstack.free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [
            str(Path(python).parent / "uvicorn"),
            "platform_site.asgi:application",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/health/ready"
    try:
        wait_until(lambda: _get(url)[0] == 200, timeout=60, interval=0.3)
        cluster.stop()
        status, body = _get(url)
        assert status == 503
        assert "postgres" in body["failing"]
        devstack.give_to_postgres(cluster.sockdir, 0o755)
        cluster.start(credentials)
        wait_until(lambda: _get(url)[0] == 200, timeout=60, interval=0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
