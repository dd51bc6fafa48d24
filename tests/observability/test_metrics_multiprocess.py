"""/metrics under gunicorn with several workers: PROMETHEUS_MULTIPROC_DIR makes a scrape report
every worker's requests, including those of workers that have since exited."""

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import wait_until
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "stale_counter_1.db").write_bytes(b"left over from an earlier run")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "SECRET_KEY": settings.SECRET_KEY,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "METRICS_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "platform_site.asgi:application",
            "-k", "uvicorn_worker.UvicornWorker", "-w", "2", "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", "--graceful-timeout", "10",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: len(_children(process.pid)) == 2, timeout=60)
        wait_until(lambda: _live(url), timeout=60)
        yield {"url": url, "pid": process.pid, "dir": multiproc}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _live(url: str) -> bool:
    try:
        return _get(url + "/health/live")[0] == 200
    except OSError:
        return False


def _api_requests_counted(url: str) -> float:
    status, page = _get(url + "/metrics")
    assert status == 200, page[:200]
    total = 0.0
    for family in text_string_to_metric_families(page):
        if family.name != "platform_request_latency_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels["status"] == "4xx":
                assert sample.labels["route"].startswith("api/v1/orgs")
                total += sample.value
    return total


def _families(url: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(_get(url + "/metrics")[1])}


@pytest.mark.slow
def test_metrics_sum_every_worker_of_a_gunicorn_server(gunicorn):
    url = gunicorn["url"]
    assert not (gunicorn["dir"] / "stale_counter_1.db").exists()  # emptied at start
    for _ in range(10):
        assert _get(url + "/api/v1/orgs/")[0] == 401
    assert _api_requests_counted(url) == 10
    assert "platform_redis_breaker_state" in _families(url)  # scrape-time gauges still there

    # Replace both workers: whichever new worker answers the scrape served none of the first
    # ten requests, yet reports them.
    old = _children(gunicorn["pid"])
    for pid in old:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: len(_children(gunicorn["pid"]) - old) == 2, timeout=60)
    wait_until(lambda: _live(url), timeout=60)
    for _ in range(6):
        assert _get(url + "/api/v1/orgs/")[0] == 401
    for _ in range(3):  # the same answer from whichever worker
        assert _api_requests_counted(url) == 16


def test_metrics_without_the_directory_are_this_process(committed, staff_client):
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    page = staff_client.get("/metrics")
    assert page.status_code == 200
    assert b"platform_request_latency_seconds" in page.content
