"""A real Celery worker (prefork, supervised, as ``make run`` starts it) on a real Redis broker
that the test kills and starts again, twice, each time while a task runs: a worker consumes
again after both restarts (the same process, or a new one if the old one died), and
``/health/ready`` reports ``celery_worker`` failing whenever no worker is consuming (broker
down, or the worker stopped with SIGSTOP), although the broker itself may answer its ping."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from celery import Celery

from cache.breaker import redis_breaker
from cache.metrics import SAMPLE_LOCK_KEY, SERIES_KEY
from tests.observability.conftest import devstack, wait_until
from tests.servers import OwnRedis

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def broker(tmp_path, settings):
    """A redis-server of this test: the platform's cache and the worker's broker.

    The test process's own Celery app keeps the suite's broker (its configuration is read once
    per process); tasks for the worker are sent by a Celery app of the test's own."""
    server = OwnRedis(tmp_path)
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    settings.WORKER_HEARTBEAT_MAX_AGE = 4.0
    settings.LATENCY_SAMPLE_RATE = 0.0
    try:
        yield server
    finally:
        server.kill()
        redis_breaker.close()


@pytest.fixture
def worker(broker, tmp_path):
    """The worker as ``make run`` runs it: under ``devstack.Supervised``, checked here by a
    thread as the ``make run`` loop does, so a worker that exits is started again."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "REDIS_URL": broker.url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "REDIS_BREAKER_RESET_SECONDS": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    cmd = [
        str(Path(sys.executable).parent / "celery"), "-A", "platform_site", "worker",
        "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    log = open(log_path, "ab")  # noqa: SIM115  (closed below; every restart appends)
    child = devstack.Supervised("celery worker", cmd, env, output=log)
    child.log_text = lambda: log_path.read_text(errors="replace")
    stop = threading.Event()

    def supervise():
        while not stop.wait(0.2):
            child.check()

    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    try:
        yield child
    finally:
        stop.set()
        supervisor.join(timeout=5)
        os.killpg(child.process.pid, signal.SIGCONT)
        child.stop()
        log.close()


def _worker_check(client) -> dict:
    return client.get("/health/ready").json()["checks"]["celery_worker"]


def _consumes_a_task(broker) -> bool:
    """Send evaluate_alerts through the broker; it samples the Redis metrics series."""
    redis = broker.client()
    redis.delete(SERIES_KEY, SAMPLE_LOCK_KEY)
    sender = Celery(broker=broker.url, set_as_current=False)  # the platform app stays current
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
        try:
            wait_until(lambda: _worker_check(client)["ok"], timeout=90, interval=0.5)
        except AssertionError:
            raise AssertionError(f"no worker consumed again:\n{worker.log_text()}") from None
        assert _consumes_a_task(broker)
    assert "Connection to broker lost" in worker.log_text()
    # kombu can die restoring unacknowledged messages on a lost connection ("Unrecoverable
    # error: AttributeError ... 'hostname'"); when it does, the supervisor has started a new
    # worker, and the one that died was reaped (no defunct process).
    if "Unrecoverable error" in worker.log_text():
        assert worker.restarts >= 1
    assert worker.process.poll() is None

    # A worker that stops consuming while the broker is fine: readiness says so.
    os.killpg(worker.process.pid, signal.SIGSTOP)
    wait_until(lambda: not _worker_check(client)["ok"], timeout=30, interval=0.5)
    check = _worker_check(client)
    assert "no worker consuming: last heartbeat" in check["detail"]
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and "celery_worker" in ready.json()["failing"]
    assert ready.json()["checks"]["celery_broker"]["ok"]  # the broker answers; nobody consumes
    os.killpg(worker.process.pid, signal.SIGCONT)
    wait_until(lambda: _worker_check(client)["ok"], timeout=30, interval=0.5)
