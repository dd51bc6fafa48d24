"""End users' auth endpoints are limited per project and client IP (and per email): 429 in
the one error shape, and one project's traffic never uses up another's."""

import pytest
from django.conf import settings as django_settings

from tests.endusers.conftest import error_code

pytestmark = pytest.mark.django_db


def _limits(settings, action, **rules):
    limits = {k: dict(v) for k, v in django_settings.CLIENT_AUTH_RATE_LIMITS.items()}
    limits[action].update(rules)
    settings.CLIENT_AUTH_RATE_LIMITS = limits


def _throttled(response):
    assert response.status_code == 429, response.content
    assert int(response.headers["Retry-After"]) >= 1
    assert error_code(response) == "throttled"


def test_signin_per_ip_limit_is_per_project(settings, app, other_app):
    _limits(settings, "signin", ip="3/60", account="100/60")
    for n in range(3):
        assert app.signin(f"u{n}@example.com").status_code == 401
    _throttled(app.signin("u9@example.com"))
    assert other_app.signin("u9@example.com").status_code == 401


def test_signin_per_account_limit(settings, app):
    _limits(settings, "signin", ip="100/60", account="2/60")
    app.signup("zed@example.com")
    app.access = None
    for _ in range(2):
        assert app.signin("zed@example.com", "wrong password 123").status_code == 401
    _throttled(app.signin("ZED@example.com"))  # even with the right password


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("signup", lambda app, n: app.signup(f"s{n}@example.com")),
        ("anonymous", lambda app, n: app.post("anonymous/")),
        ("recover", lambda app, n: app.post("recover/", {"email": f"r{n}@example.com"})),
    ],
)
def test_other_endpoints_are_limited_per_ip(settings, app, auth_settings, action, call):
    auth_settings(anonymous_sign_in=True)
    _limits(settings, action, ip="2/60")
    for n in range(2):
        assert call(app, n).status_code in (201, 202)
        app.access = None
    _throttled(call(app, 9))
