"""Fixtures for observability tests: captured JSON logs, a local HTTP receiver, dedicated
Redis / PostgreSQL servers that a test may stop, and a real Celery worker subprocess."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.servers import Receiver
from tests.tokens import access_token

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import devstack  # noqa: E402


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# --- logs -------------------------------------------------------------------------------------
class JsonLines(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        from platform_site.settings.logging import json_formatter

        self.setFormatter(json_formatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_logs():
    """Every log line emitted during the test, rendered by the production JSON formatter."""
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


# --- clients ----------------------------------------------------------------------------------
@pytest.fixture
def staff_client(db):

    staff = UserFactory(is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(staff)}")
    return client


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


# --- a Redis of our own, which a test may stop and start again ----------------------------------
class OwnRedis:
    def __init__(self):
        self.port = devstack.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="obs-redis-"))
        self.server = devstack.Redis(self.dir, self.port, durable=False)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_redis(settings):
    """A dedicated redis-server; the platform's cache (and so the health check) points at it."""
    from cache.breaker import redis_breaker

    redis = OwnRedis()
    redis.start()
    caches = {k: dict(v) for k, v in settings.CACHES.items()}
    caches["default"]["LOCATION"] = redis.url
    settings.CACHES = caches
    redis_breaker.close()
    try:
        yield redis
    finally:
        redis.close()
        redis_breaker.close()


# --- a PostgreSQL cluster of our own ----------------------------------------------------------
@pytest.fixture
def own_postgres():
    base = Path(tempfile.mkdtemp(prefix="obs-pg-"))
    base.chmod(0o755)
    credentials = devstack.load_credentials(base / "credentials.json")
    port = devstack.free_port()
    cluster = devstack.Postgres(base / "pg", port, durable=False)
    cluster.start(credentials)
    env = devstack.service_env(credentials, port, None)
    try:
        yield cluster, credentials, env
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


# --- a real Celery worker ---------------------------------------------------------------------
@pytest.fixture
def celery_worker(tmp_path):
    """``celery worker --pool solo`` on the test broker; its JSON log lines are readable."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "LOG_JSON": "true",
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
    }
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "platform_site",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def lines() -> list[dict]:
        out = []
        for raw in log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    pass
        return out

    worker.lines = lines
    worker.text = lambda: log_path.read_text(errors="replace")
    try:
        wait_until(
            lambda: re.search(r"celery@\S+ ready", worker.text()) or worker.poll() is not None,
            timeout=60,
        )
        assert worker.poll() is None, worker.text()
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture
def committed(django_db_setup, committed):
    """The shared ``committed``, after the session's migrations (when it runs first)."""
    yield


@pytest.fixture(autouse=True)
def clean_latency():
    """Forget the shared latency histogram, so earlier tests' requests feed no alert rule."""
    from cache.client import get_redis
    from observability import latency

    latency.flush()  # samples this process still holds would land after the clean-up
    client = get_redis()
    for key in client.scan_iter(latency.PREFIX + "*"):
        client.delete(key)
    return client
