"""Rate limits on register/login/refresh/reset: 429 with Retry-After at N+1, per IP and per
account, counted in Redis so that every app process shares them, and still enforced (per
process) while that Redis is really stopped."""

from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from cache.breaker import redis_breaker
from tests.authn.conftest import _saved_user
from tests.authn.helpers import PASSWORD, OwnRedis, login
from tests.factories import UserFactory
from tests.servers import AppServer

ROOT = Path(__file__).resolve().parents[2]


def _limits(settings, action, **rules):
    limits = {k: dict(v) for k, v in django_settings.AUTHN_RATE_LIMITS.items()}
    limits[action].update(rules)
    settings.AUTHN_RATE_LIMITS = limits


def _assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "throttled"


@pytest.mark.django_db
def test_login_per_account_limit_returns_429_at_n_plus_1(settings, user):
    _limits(settings, "login", account="3/60", ip="100/60")
    client = APIClient()
    for _ in range(3):
        assert login(client, user.email, "wrong password").status_code == 401
    _assert_throttled(login(client, user.email.upper()))  # even with the right password
    assert login(client, "someone-else@example.com", "x").status_code == 401


@pytest.fixture
def limiter_redis(tmp_path, settings):
    """A redis-server of this test behind the platform's default cache (the limiter's Redis)."""
    server = OwnRedis(tmp_path)
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    try:
        yield server
    finally:
        server.kill()
        redis_breaker.close()


@pytest.mark.django_db
@pytest.mark.slow
def test_login_limits_hold_while_redis_is_stopped(settings, user, limiter_redis):
    _limits(settings, "login", account="3/300", ip="1000/300")
    client = APIClient()
    assert [login(client, user.email, "wrong").status_code for _ in range(3)] == [401] * 3
    assert limiter_redis.client().keys("rl:authn:login:account:*")  # counted in Redis
    _assert_throttled(login(client, user.email))

    limiter_redis.kill()
    # The breaker opens on the way; the limits move to this process with the same counts.
    other = _saved_user()
    statuses = [login(client, other.email, "wrong").status_code for _ in range(8)]
    assert statuses == [401] * 3 + [429] * 5
    _assert_throttled(login(client, other.email))  # the right password is refused as well
    assert redis_breaker.current_state == "open"

    _limits(settings, "login", account="1000/300", ip="4/300")
    statuses = [
        login(client, f"ip{i}@example.com", "x", REMOTE_ADDR="198.51.100.4").status_code
        for i in range(6)
    ]
    assert statuses.count(429) == 2 and statuses[:4] == [401] * 4


@pytest.mark.django_db
def test_per_ip_limit_and_untrusted_forwarded_for(settings):
    _limits(settings, "login", account="100/60", ip="3/60")
    client = APIClient()
    for i in range(3):
        # A client cannot pick its own address through X-Forwarded-For.
        response = login(client, f"u{i}@example.com", "x", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
        assert response.status_code == 401
    _assert_throttled(login(client, "u9@example.com", "x", HTTP_X_FORWARDED_FOR="10.0.0.9"))


@pytest.mark.django_db
def test_forwarded_for_is_used_behind_a_trusted_proxy(settings):
    _limits(settings, "login", account="100/60", ip="2/60")
    settings.AUTHN_TRUSTED_PROXIES = ["127.0.0.1/32"]
    client = APIClient()
    for i in range(2):
        assert (
            login(client, f"a{i}@example.com", "x", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code
            == 401
        )
    _assert_throttled(login(client, "a3@example.com", "x", HTTP_X_FORWARDED_FOR="203.0.113.7"))
    # Another real client behind the same proxy has its own budget.
    assert (
        login(client, "a4@example.com", "x", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 401
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "path", "body"),
    [
        ("register", "/api/v1/auth/register/", {"email": "r@example.com", "password": "short"}),
        ("refresh", "/api/v1/auth/refresh/", {"refresh": "not-a-token"}),
        ("reset", "/api/v1/auth/password/reset/", {"email": "r@example.com"}),
    ],
)
def test_other_auth_endpoints_are_limited(settings, action, path, body):
    _limits(settings, action, ip="2/60", account="100/60")
    client = APIClient()
    statuses = [client.post(path, body, format="json").status_code for _ in range(2)]
    assert 429 not in statuses
    _assert_throttled(client.post(path, body, format="json"))


@pytest.mark.slow
def test_limits_are_shared_across_two_app_processes(committed):
    user = UserFactory()
    user.save()
    env = {
        "SECRET_KEY": django_settings.SECRET_KEY,
        "AUTHN_RATE_LOGIN_ACCOUNT": "4/300",
        "AUTHN_RATE_LOGIN_IP": "1000/300",
        "AUTHN_RATE_RESET_IP": "3/300",
        "AUTHN_RATE_RESET_ACCOUNT": "1000/300",
        "AUTHN_WARM_SESSIONS_ON_STARTUP": "false",
        "AUTHN_EMAIL_ASYNC": "false",
    }
    servers = []
    try:
        servers = [AppServer(env).start(), AppServer(env).start()]
        urls = [f"{server.url}/api/v1/auth" for server in servers]
        with httpx.Client(timeout=30) as http:
            # Per account: 4 attempts spread over both processes, the 5th is refused.
            statuses = [
                http.post(
                    f"{urls[i % 2]}/login/", json={"email": user.email, "password": "wrong"}
                ).status_code
                for i in range(4)
            ]
            assert statuses == [401] * 4
            fifth = http.post(f"{urls[0]}/login/", json={"email": user.email, "password": PASSWORD})
            assert fifth.status_code == 429 and int(fifth.headers["Retry-After"]) >= 1
            sixth = http.post(f"{urls[1]}/login/", json={"email": user.email, "password": PASSWORD})
            assert sixth.status_code == 429

            # Per IP: 3 reset requests for different emails over both processes, then 429.
            statuses = [
                http.post(
                    f"{urls[i % 2]}/password/reset/", json={"email": f"x{i}@e.com"}
                ).status_code
                for i in range(3)
            ]
            assert statuses == [202] * 3
            assert (
                http.post(f"{urls[1]}/password/reset/", json={"email": "y@e.com"}).status_code
                == 429
            )
    finally:
        for server in servers:
            server.stop()
