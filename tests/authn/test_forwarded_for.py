"""X-Forwarded-For is believed only from AUTHN_TRUSTED_PROXIES, by every server process.

uvicorn (and gunicorn's uvicorn workers) rewrite the client address from forwarding headers
sent by 127.0.0.1 unless told otherwise, so a local caller rotating X-Forwarded-For would
get a fresh per-IP rate-limit bucket with every request. These tests start the servers the
way ``make run`` (``scripts/devstack.py``) and ``gunicorn.conf.py`` start them.
"""

import sys
from pathlib import Path

import httpx
import pytest

from cache.client import get_redis
from scripts.devstack import trusted_proxies, uvicorn_command
from tests.observability.conftest import json_logs  # noqa: F401  (fixture)
from tests.servers import AppServer

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5


def server(command=None, **env) -> AppServer:
    """The platform as make run serves it: local settings (DEBUG on), no trusted proxy."""
    server = AppServer(
        {
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.local",
            "AUTHN_RATE_LOGIN_IP": f"{LIMIT}/300",
            "AUTHN_RATE_LOGIN_ACCOUNT": "1000/300",
            "AUTHN_WARM_SESSIONS_ON_STARTUP": "false",
            **env,
        },
        command=command,
    )
    if "AUTHN_TRUSTED_PROXIES" not in env:
        server.env.pop("AUTHN_TRUSTED_PROXIES", None)
    return server.start(timeout=90)


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
    app = server()
    try:
        statuses = login_statuses(app.url, rotating(LIMIT + 3))
    finally:
        app.stop()
    assert statuses[:LIMIT] == [401] * LIMIT
    assert statuses[LIMIT:] == [429] * 3


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_behind_a_configured_proxy_each_forwarded_client_has_its_own_budget(committed):
    app = server(AUTHN_TRUSTED_PROXIES="127.0.0.1/32")
    try:
        distinct = login_statuses(app.url, rotating(LIMIT + 3))
        same = login_statuses(app.url, ["198.51.100.7"] * (LIMIT + 1))
    finally:
        app.stop()
    assert distinct == [401] * (LIMIT + 3)
    assert same == [401] * LIMIT + [429]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_gunicorn_with_uvicorn_workers_limits_loopback_logins_too(committed):
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    app = server(
        lambda port: [
            gunicorn,
            "platform_site.asgi:application",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ]  # fmt: skip
    )
    try:
        statuses = login_statuses(app.url, rotating(LIMIT + 2))
    finally:
        app.stop()
    assert statuses == [401] * LIMIT + [429] * 2
