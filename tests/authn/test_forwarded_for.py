"""X-Forwarded-For is believed only from AUTHN_TRUSTED_PROXIES, by every server process.

uvicorn (and gunicorn's uvicorn workers) rewrite the client address from forwarding headers
sent by 127.0.0.1 unless told otherwise, so a local caller rotating X-Forwarded-For would
get a fresh per-IP rate-limit bucket with every request. These tests start the servers the
way ``make run`` (``scripts/devstack.py``) and ``gunicorn.conf.py`` start them.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from cache.client import get_redis
from scripts.devstack import trusted_proxies, uvicorn_command
from tests.observability.conftest import json_logs  # noqa: F401  (fixture)
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5


def server_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "AUTHN_TRUSTED_PROXIES"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.local",  # what make run uses
            "SECRET_KEY": settings.SECRET_KEY,
            "AUTHN_RATE_LOGIN_IP": f"{LIMIT}/300",
            "AUTHN_RATE_LOGIN_ACCOUNT": "1000/300",
            "AUTHN_WARM_SESSIONS_ON_STARTUP": "false",
            **extra,
        }
    )
    return env


def start(command: list[str], env: dict, url: str) -> subprocess.Popen:
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health/live", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(process)
    raise TimeoutError("server did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def login_statuses(url: str, forwarded_for: list[str]) -> list[int]:
    for key in get_redis().scan_iter("authn:rl:login:*"):
        get_redis().delete(key)
    with httpx.Client(timeout=30) as http:
        return [
            http.post(
                url + "/api/v1/auth/login/",
                json={"email": f"nobody{i}@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": address},
            ).status_code
            for i, address in enumerate(forwarded_for)
        ]


def rotating(n: int) -> list[str]:
    return [f"203.0.113.{i + 1}" for i in range(n)]


def uvicorn(env: dict):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return start(uvicorn_command("127.0.0.1", port, env), env, url), url


def test_trusted_proxies_become_the_servers_forwarded_allow_ips():
    assert trusted_proxies({}) == ""
    assert trusted_proxies({"AUTHN_TRUSTED_PROXIES": " , "}) == ""
    assert trusted_proxies({"AUTHN_TRUSTED_PROXIES": "10.1.2.3/8, ::1"}) == "10.0.0.0/8,::1/128"
    assert "--no-proxy-headers" in uvicorn_command("127.0.0.1", 1, {})
    command = uvicorn_command("127.0.0.1", 1, {"AUTHN_TRUSTED_PROXIES": "127.0.0.1"})
    assert command[command.index("--forwarded-allow-ips") + 1] == "127.0.0.1/32"


@pytest.mark.django_db
def test_log_lines_carry_the_trusted_client_address(json_logs, client, settings):  # noqa: F811
    settings.AUTHN_TRUSTED_PROXIES = []
    client.get("/api/v1/orgs/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    addresses = {line.get("ip") for line in json_logs if "ip" in line}
    assert addresses == {"127.0.0.1"}
    json_logs.clear()
    settings.AUTHN_TRUSTED_PROXIES = ["127.0.0.1/32"]
    client.get("/api/v1/orgs/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert {line.get("ip") for line in json_logs if "ip" in line} == {"203.0.113.9"}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_make_runs_uvicorn_limits_loopback_logins_whatever_they_forward(committed):
    process, url = uvicorn(server_env())
    try:
        statuses = login_statuses(url, rotating(LIMIT + 3))
    finally:
        stop(process)
    assert statuses[:LIMIT] == [401] * LIMIT
    assert statuses[LIMIT:] == [429] * 3


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_behind_a_configured_proxy_each_forwarded_client_has_its_own_budget(committed):
    process, url = uvicorn(server_env(AUTHN_TRUSTED_PROXIES="127.0.0.1/32"))
    try:
        distinct = login_statuses(url, rotating(LIMIT + 3))
        same = login_statuses(url, ["198.51.100.7"] * (LIMIT + 1))
    finally:
        stop(process)
    assert distinct == [401] * (LIMIT + 3)
    assert same == [401] * LIMIT + [429]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_gunicorn_with_uvicorn_workers_limits_loopback_logins_too(committed):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [
        gunicorn, "platform_site.asgi:application", "-c", str(ROOT / "gunicorn.conf.py"),
        "-k", "uvicorn_worker.UvicornWorker", "-w", "1", "-b", f"127.0.0.1:{port}",
        "--log-level", "warning",
    ]  # fmt: skip
    process = start(command, server_env(), url)
    try:
        statuses = login_statuses(url, rotating(LIMIT + 2))
    finally:
        stop(process)
    assert statuses == [401] * LIMIT + [429] * 2
