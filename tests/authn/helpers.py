"""Helpers for the auth tests: an own redis-server process, login and bearer shortcuts."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class OwnRedis:
    """A redis-server process this test owns (and may kill); never the shared one."""

    def __init__(self, datadir: Path, *, appendonly: bool = False):
        self.port = free_port()
        self.datadir = datadir
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
            if self.appendonly
            else ["--save", "", "--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.datadir),
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def login(client, email: str, password: str = PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/login/", {"email": email, "password": password}, format="json", **extra
    )


def bearer(client, access: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def as_platform_admin() -> None:
    """Let the test's own queries see every row (inside the test's transaction)."""
    from tenants.context import TenantContext, set_tenant_context

    set_tenant_context(TenantContext(platform_admin=True))
