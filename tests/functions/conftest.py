"""A real functions supervisor (bubblewrap + Deno, cgroups when writable) for the session.

Function tests commit for real, as the compute tests do: invocation rows are written after the
response (streamed bodies), outside the request's transaction.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.factories import UserFactory


def deno_processes(marker: str) -> list[str]:
    """Command lines of running processes that mention ``marker`` (a state directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and "functions.supervisor" not in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


class RunningSupervisor:
    def __init__(self, base: Path, *extra: str):
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.socket = str(base / "supervisor.sock")
        self.state_dir = str(base / "state")
        self.log = open(base / "supervisor.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "functions.supervisor", "--socket", self.socket,
             "--state-dir", self.state_dir, "--project-concurrency", "2",
             # As the test settings' OUTBOUND_ALLOWED_NETWORKS: local receivers on loopback.
             "--egress-allowed-networks", "127.0.0.1/32", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        with httpx.Client(transport=httpx.HTTPTransport(uds=self.socket)) as client:
            while True:
                try:
                    self.cgroups = client.get("http://s/health").json()["cgroups"]
                    break
                except (httpx.TransportError, ValueError):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((base / "supervisor.log").read_text()) from None
                    time.sleep(0.1)

    def health(self) -> dict:
        with httpx.Client(transport=httpx.HTTPTransport(uds=self.socket)) as client:
            return client.get("http://s/health").json()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def supervisor():
    base = Path(tempfile.mkdtemp(prefix="fnsup-"))
    running = RunningSupervisor(base)
    yield running
    running.stop()
    leftovers = deno_processes(running.state_dir)
    assert leftovers == [], leftovers


@pytest.fixture(autouse=True)
def _use_supervisor(request, settings):
    if "supervisor" in request.fixturenames or "project" in request.fixturenames:
        running = request.getfixturevalue("supervisor")
        settings.FUNCTIONS_SUPERVISOR_SOCKET = running.socket


@pytest.fixture
def user(committed):
    return UserFactory()


@pytest.fixture
def other_user(committed):
    return UserFactory()


@pytest.fixture
def project(org, user, client_for):
    body = client_for(user).post("/api/v1/orgs/org-a/projects/", {"name": "app"}, "json").json()
    return body


@pytest.fixture
def functions_url(project):
    return f"/api/v1/orgs/org-a/projects/{project['id']}/functions/"
