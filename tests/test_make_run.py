"""``make run`` from this checkout: it starts its own PostgreSQL and Redis, serves HTTP,
and Ctrl-C (SIGINT to its process group) stops everything it started."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_make_run_serves_ready_and_admin_login_then_stops():
    port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="platform-run-"))
    var_dir.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "DJANGO_SETTINGS_MODULE",
            "DATABASE_APP_USER",
            "DATABASE_APP_PASSWORD",
            "PLATFORM_VAR_DIR",
        }
    }
    env.update({"PORT": str(port), "PLATFORM_VAR_DIR": str(var_dir)})
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body = get(base + "/health/ready")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert status == 200, f"ready never answered 200 (last {status})"
        assert '"postgres"' in body
        status, body = get(base + "/studio/login/")
        assert status == 200 and "csrfmiddlewaretoken" in body
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = process.communicate(timeout=60)
    assert "Demo org owner: owner@demo.example" in output
    assert "Studio superuser: admin" in output
    # The client-app demo: both keys printed once (tests/tenants/test_bootstrap_demo.py checks
    # what they open).
    assert "Demo client app: project todo-app, ref " in output
    assert "Demo publishable key: sb_publishable_" in output
    assert "Demo secret key: sb_secret_" in output
    assert "stopped" in output
    assert "Function hello-world v1 deployed" in output
    # The functions supervisor stopped with the rest, and its workers with it.
    assert _processes_mentioning(str(var_dir)) == []

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended while we looked
        if text in command:
            found.append(command)
    return found
