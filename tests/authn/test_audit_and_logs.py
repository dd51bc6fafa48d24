"""Every auth event writes one AuditEvent row and one log line; no secret is ever logged."""

import logging
import re
from datetime import UTC

import pytest
from django.core import mail
from rest_framework.test import APIClient

from authn.models import AuditEvent
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context
from tests.authn.helpers import PASSWORD, as_platform_admin, bearer, login

pytestmark = pytest.mark.django_db
UA = "audit-test/1.0"


def _client(request_id: str) -> APIClient:
    client = APIClient(HTTP_USER_AGENT=UA, HTTP_X_REQUEST_ID=request_id)
    return client


def test_each_event_writes_one_row_and_one_log_line_without_secrets(
    user, other_user, org, caplog, settings
):
    caplog.set_level(logging.DEBUG)
    settings.AUTHN_REFRESH_REUSE_GRACE_SECONDS = 0
    secrets: list[str] = [PASSWORD]
    new_password, reset_password = "a fresh passphrase 1", "a reset passphrase 2"
    secrets += [new_password, reset_password, "wrong secret guess"]

    c = _client("req-register")
    reg = c.post("/api/v1/auth/register/", {"email": "fresh@example.com", "password": PASSWORD})
    assert reg.status_code == 201
    secrets += [reg.json()["access"], reg.json()["refresh"]]
    secrets.append(mail.outbox[-1].body.split("#token=")[1].split()[0])

    assert login(_client("req-fail"), user.email, "wrong secret guess").status_code == 401
    ok = login(_client("req-login"), user.email)
    assert ok.status_code == 200
    access, refresh = ok.json()["access"], ok.json()["refresh"]
    secrets += [access, refresh]

    refreshed = _client("req-refresh").post("/api/v1/auth/refresh/", {"refresh": refresh})
    secrets += [refreshed.json()["access"], refreshed.json()["refresh"]]
    authed = bearer(_client("req-change"), refreshed.json()["access"])
    assert authed.get("/api/v1/auth/me/").status_code == 200
    change = authed.post(
        "/api/v1/auth/password/change/",
        {"current_password": PASSWORD, "new_password": new_password},
    )
    assert change.status_code == 204
    # Replaying the first refresh token (no grace window here): reuse.
    assert (
        _client("req-reuse").post("/api/v1/auth/refresh/", {"refresh": refresh}).status_code == 401
    )

    again = login(_client("req-login2"), user.email, new_password).json()
    secrets += [again["access"], again["refresh"]]
    assert (
        bearer(_client("req-logout"), again["access"]).post("/api/v1/auth/logout/").status_code
        == 204
    )

    _client("req-reset").post("/api/v1/auth/password/reset/", {"email": user.email})
    uid, token = re.search(r"#uid=([^&]+)&token=(\S+)", mail.outbox[-1].body).groups()
    secrets.append(token)
    confirm = _client("req-reset-confirm").post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": uid, "token": token, "new_password": reset_password},
    )
    assert confirm.status_code == 204

    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role="owner"))
    owner = org.memberships.get(user=user)
    added = tenant_services.member_add(membership=owner, email=other_user.email, role="viewer")
    tenant_services.member_change_role(membership=owner, target=added, role="developer")

    as_platform_admin()
    events = list(AuditEvent.objects.order_by("created_at"))
    actions = [e.action for e in events]
    for action in (
        "register",
        "login_failed",
        "login_ok",
        "refresh",
        "password_change",
        "refresh_reuse_detected",
        "logout",
        "password_reset_request",
        "password_reset",
        "role_change",
    ):
        assert action in actions, action
    assert actions.count("login_ok") == 2 and actions.count("login_failed") == 1
    by_request = {e.request_id: e for e in events}
    login_event = by_request["req-login"]
    assert login_event.action == "login_ok" and login_event.actor_id == user.pk
    assert login_event.ip == "127.0.0.1" and login_event.user_agent == UA
    assert login_event.created_at.tzinfo is not None
    assert login_event.created_at.utcoffset() == UTC.utcoffset(None)
    role = next(e for e in events if e.action == "role_change")
    assert role.org_id == org.id and role.metadata["to"] == "developer"

    # The org fixture's own event was logged while the test was being set up.
    records = caplog.get_records("setup") + caplog.records
    audit_lines = [r for r in records if getattr(r, "msg", None) and "audit_event" in str(r.msg)]
    assert len(audit_lines) == len(events)
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
    assert "Bearer" not in logged
