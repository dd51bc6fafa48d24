"""Bearer API calls and the liveness probe skip the middleware only browsers use (sessions,
Django auth, messages, static files: ``needs_browser_middleware``); the Studio and
cookie-authenticated API calls keep every one of them. CSRF and frame headers run for every
request (``check --deploy`` wants them by name)."""

import pytest
from django.conf import settings
from django.test import Client

from platform_site import middleware
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch):
    """Which wrapped middleware ran, by class name."""
    seen: list[str] = []
    original = middleware.BrowserOnly.__call__

    def spy(self, request):
        if middleware.needs_browser_middleware(request):
            seen.append(type(self).__name__)
        return original(self, request)

    monkeypatch.setattr(middleware.BrowserOnly, "__call__", spy)
    return seen


WRAPPED = {
    "WhiteNoiseMiddleware",
    "SessionMiddleware",
    "AuthenticationMiddleware",
    "MessageMiddleware",
}


def test_every_browser_middleware_in_the_stack_is_wrapped():
    from django.utils.module_loading import import_string

    stack = [import_string(m) for m in settings.MIDDLEWARE]
    wrapped = {cls.__name__ for cls in stack if issubclass(cls, middleware.BrowserOnly)}
    assert wrapped == WRAPPED
    for cls in stack:  # no original left in the stack next to its wrapped copy
        if not issubclass(cls, middleware.BrowserOnly):
            assert cls.__name__ not in WRAPPED, cls
    # Django's and the admin's checks look for subclasses of the originals.
    from django.contrib.sessions.middleware import SessionMiddleware

    assert issubclass(middleware.SessionMiddleware, SessionMiddleware)


def test_a_bearer_api_call_skips_them(calls, user, client_for):
    response = client_for(user).get("/api/v1/auth/me/")
    assert response.status_code == 200, response.content
    assert calls == []
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert response["Cache-Control"] == "no-store"  # the edge middleware still runs


def test_the_liveness_probe_skips_them(calls):
    response = Client().get("/health/live")
    assert response.status_code == 200 and calls == []


def test_the_studio_keeps_every_one(calls):
    response = Client().get("/studio/login/")
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"
    assert set(calls) == WRAPPED


def test_a_cookie_authenticated_api_call_keeps_sessions_and_csrf(calls):
    staff = UserFactory(is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    calls.clear()
    assert client.get("/api/v1/orgs/").status_code == 200  # the session says who calls
    assert {"SessionMiddleware", "AuthenticationMiddleware"} <= set(calls)
    # A cookie-authenticated write without the CSRF token is refused, as before.
    refused = client.post(
        "/api/v1/orgs/", {"name": "x", "slug": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


def test_a_bearer_header_never_borrows_the_session(user):
    """With the session middleware skipped, a bad bearer token next to a valid session cookie
    is a 401: the cookie does not authenticate a bearer call."""
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/api/v1/orgs/").status_code == 200
    refused = client.get("/api/v1/orgs/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert refused.status_code == 401
