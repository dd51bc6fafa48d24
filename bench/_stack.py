"""Servers for a benchmark run: the ones in DATABASE_URL / REDIS_URL, or throwaway ones started
the way ``make test`` starts them (scripts/devstack.py), and the platform itself served the way
the README's Production section runs it."""

import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import devstack  # noqa: E402

# Requests to a production-settings server say they came through a TLS-terminating proxy
# (SECURE_PROXY_SSL_HEADER), as they do in production; plain HTTP would be redirected.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def start(*, need_postgres: bool) -> devstack.Stack:
    """Start what is missing, export its environment, and set up Django (test settings)."""
    base = Path(tempfile.mkdtemp(prefix="platform-bench-"))
    base.chmod(0o755)
    stack = devstack.Stack()
    if not need_postgres:
        os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
    credentials = devstack.load_credentials(base / "credentials.json")
    os.environ.update(devstack.start_services(base, credentials, durable=False, stack=stack))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")
    os.environ["PLATFORM_VAR_DIR"] = str(base)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # One key for the run: tokens made in this process are valid in the servers it starts.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    if need_postgres:
        from django.core.management import call_command

        call_command("migrate", database="owner", verbosity=0, interactive=False)
    return stack


class PlatformServer:
    """The platform as production serves it (``devstack.serve``): nginx on a free loopback
    port, HTTP to gunicorn's gthread workers (WSGI), websockets to uvicorn (ASGI), with
    production settings.

    The environment is this process's (servers, ``SECRET_KEY``, ``PLATFORM_VAR_DIR``) with
    production settings, logs at WARNING, and ``env`` on top. Output goes to ``log_path``.
    """

    def __init__(
        self, *, workers: int = 2, threads: int = 8, env: dict | None = None, log_path: Path
    ):
        self.port = devstack.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.production",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen] = []

    def start(self, timeout: float = 90.0) -> "PlatformServer":
        var = Path(self.env["PLATFORM_VAR_DIR"])
        (var / "static").mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.processes = devstack.serve(
                self.env, "127.0.0.1", self.port, var / f"nginx-{self.port}",
                workers=self.workers, threads=self.threads, output=log,
            )  # fmt: skip
        request = urllib.request.Request(f"{self.url}/health/live", headers=PROXY_HEADERS)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in zip(devstack.SERVED, self.processes, strict=True):
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{name} exited with {process.returncode}: {self.log_path}")
            try:
                with urllib.request.urlopen(request, timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"the platform did not answer /health/live in {timeout:.0f} s")

    def stop(self) -> None:
        for process in reversed(self.processes):
            devstack.stop_group(process)
