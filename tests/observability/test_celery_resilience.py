"""A real Celery worker (prefork, as ``make run`` starts it) on a real Redis broker that the
test kills and starts again, twice: the worker outlives both restarts and consumes again, and
``/health/ready`` reports ``celery_worker`` failing whenever no worker is consuming (broker
down, or the worker stopped with SIGSTOP), although the broker itself may answer its ping."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from cache.breaker import redis_breaker
from cache.metrics import SAMPLE_LOCK_KEY, SERIES_KEY
from tests.observability.conftest import wait_until
from tests.servers import OwnRedis

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def broker(tmp_path, settings):
    """A redis-server of this test: the platform's cache and Celery broker point at it."""
    server = OwnRedis(tmp_path)
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    settings.CELERY_BROKER_URL = server.url
    settings.WORKER_HEARTBEAT_MAX_AGE = 4.0
    settings.LATENCY_SAMPLE_RATE = 0.0
    try:
        yield server
    finally:
        server.kill()
        redis_breaker.close()


@pytest.fixture
def worker(broker, tmp_path):
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "REDIS_URL": broker.url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "REDIS_BREAKER_RESET_SECONDS": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "platform_site", "worker",
             "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    process.log_text = lambda: log_path.read_text(errors="replace")
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGCONT)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _worker_check(client) -> dict:
    return client.get("/health/ready").json()["checks"]["celery_worker"]


def _consumes_a_task(broker) -> bool:
    """Send evaluate_alerts through the broker; it samples the Redis metrics series."""
    redis = broker.client()
    redis.delete(SERIES_KEY, SAMPLE_LOCK_KEY)
    sender = Celery(broker=broker.url)
    try:
        sender.send_task("observability.tasks.evaluate_alerts")
    finally:
        sender.close()
    wait_until(lambda: redis.exists(SERIES_KEY), timeout=60, interval=0.5)
    return True


def test_the_worker_survives_broker_restarts_and_readiness_tells(
    committed, client, broker, worker, settings
):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))  # the checks' details are for operators
    wait_until(lambda: _worker_check(client)["ok"], timeout=90, interval=0.5)
    assert "1 worker(s) consuming" in _worker_check(client)["detail"]
    assert _consumes_a_task(broker)

    for _ in range(2):
        broker.kill()
        time.sleep(2)  # the worker notices, logs the lost connection and starts retrying
        assert client.get("/health/ready").status_code == 503
        assert not _worker_check(client)["ok"]
        broker.start()  # same port, empty: queue bindings and heartbeats are gone
        wait_until(lambda: _worker_check(client)["ok"], timeout=90, interval=0.5)
        assert worker.poll() is None, worker.log_text()
        assert _consumes_a_task(broker)
    assert "Connection to broker lost" in worker.log_text()
    assert "Unrecoverable error" not in worker.log_text()

    # A worker that stops consuming while the broker is fine: readiness says so.
    os.killpg(worker.pid, signal.SIGSTOP)
    wait_until(lambda: not _worker_check(client)["ok"], timeout=30, interval=0.5)
    check = _worker_check(client)
    assert "no worker consuming: last heartbeat" in check["detail"]
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and "celery_worker" in ready.json()["failing"]
    assert ready.json()["checks"]["celery_broker"]["ok"]  # the broker answers; nobody consumes
    os.killpg(worker.pid, signal.SIGCONT)
    wait_until(lambda: _worker_check(client)["ok"], timeout=30, interval=0.5)
