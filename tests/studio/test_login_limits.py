"""The Studio login is limited like the API login: the same per-IP and per-account windows
(one limiter, one count), 429 with Retry-After, and a ``login_failed`` audit row per refused
password."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from authn.constants import AuditAction
from authn.models import AuditEvent
from cache.client import get_redis
from tests.authn.helpers import as_platform_admin
from tests.authn.helpers import login as api_login
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/studio/login/"


@pytest.fixture(autouse=True)
def fresh_counters():
    client = get_redis()
    keys = list(client.scan_iter(match="rl:authn:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def superuser():
    user = UserFactory(username="admin", email="admin@example.com", is_staff=True)
    user.is_superuser = True
    user.save()  # the factory skips the save after set_password: keep the password
    return user


def _limits(settings, **rules):
    limits = {k: dict(v) for k, v in django_settings.AUTHN_RATE_LIMITS.items()}
    limits["login"].update(rules)
    settings.AUTHN_RATE_LIMITS = limits


def _studio_login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _failures(via="studio") -> list[AuditEvent]:
    as_platform_admin()
    return [
        e
        for e in AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
        if e.metadata.get("via", "api") == via
    ]


def test_thirty_wrong_passwords_then_the_right_one_is_refused(superuser):
    # The defaults: 10 per account and 30 per IP in 5 minutes.
    assert django_settings.AUTHN_RATE_LIMITS["login"] == {"ip": "30/300", "account": "10/300"}
    client = Client()
    statuses = [_studio_login(client, "admin", f"guess {i}").status_code for i in range(30)]
    assert statuses == [200] * 10 + [429] * 20

    right = _studio_login(client, "admin", PASSWORD)
    assert right.status_code == 429 and int(right["Retry-After"]) >= 1
    assert b"Too many login attempts" in right.content
    assert not _logged_in(client)

    failures = _failures()
    assert len(failures) == 10  # one per password checked; the throttled ones never were
    assert {e.target_id for e in failures} == {str(superuser.pk)}
    assert all(e.ip == "127.0.0.1" and e.metadata["known_account"] for e in failures)


def test_a_right_password_within_the_limit_logs_in(superuser):
    client = Client()
    assert _studio_login(client, "admin", "wrong").status_code == 200
    response = _studio_login(client, "admin", PASSWORD)
    assert response.status_code == 302 and _logged_in(client)
    assert len(_failures()) == 1


def test_per_ip_limit_across_accounts(settings, superuser):
    _limits(settings, ip="4/300", account="100/300")
    client = Client()
    statuses = [_studio_login(client, f"nobody{i}", "x").status_code for i in range(6)]
    assert statuses == [200] * 4 + [429] * 2
    assert [e.metadata["known_account"] for e in _failures()] == [False] * 4
    # Another client address has its own budget.
    other = _studio_login(Client(), "admin", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 302


def test_api_and_studio_share_one_account_budget(settings, superuser):
    _limits(settings, ip="100/300", account="5/300")
    api = APIClient()  # the API login and the Studio count the same account key
    for _ in range(3):
        assert api_login(api, "admin", "wrong").status_code == 401
    for _ in range(2):
        assert _studio_login(Client(), "admin", "wrong").status_code == 200
    assert _studio_login(Client(), "admin", PASSWORD).status_code == 429
    assert api_login(api, "admin", PASSWORD).status_code == 429
    assert len(_failures("api")) == 3 and len(_failures("studio")) == 2
