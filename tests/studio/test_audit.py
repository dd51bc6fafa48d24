"""Studio writes are audited: every admin page's add, change and delete, and every admin
action, records one audit event with the request's id, in the same transaction."""

import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

from authn.models import AuditEvent
from observability import alerts
from studio.audit import AuditedAdmin
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


def _events(request_id: str) -> list[AuditEvent]:
    set_tenant_context(TenantContext(platform_admin=True))
    return list(AuditEvent.objects.filter(request_id=request_id).order_by("created_at"))


def _post(client, url: str, data: dict):
    request_id = f"studio-{uuid.uuid4().hex}"
    response = client.post(url, data, HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 302, response.content[:2000]
    assert response["X-Request-ID"] == request_id
    return _events(request_id)


def test_every_admin_page_of_the_studio_is_audited():
    registry = admin.site._registry
    assert len(registry) > 10
    assert [type(a).__name__ for a in registry.values() if not isinstance(a, AuditedAdmin)] == []


def test_add_change_and_delete_through_admin_pages_write_one_event_each(staff_client):
    added = _post(staff_client, "/studio/auth/group/add/", {"name": "support"})
    group = Group.objects.get(name="support")
    assert [(e.action, e.target_type, e.target_id) for e in added] == [
        ("studio_add", "auth.group", str(group.pk))
    ]
    assert added[0].actor_id == staff_client.staff.pk

    changed = _post(staff_client, f"/studio/auth/group/{group.pk}/change/", {"name": "help"})
    assert [e.action for e in changed] == ["studio_change"]
    assert changed[0].metadata["change"] == [{"changed": {"fields": ["Name"]}}]

    second = Group.objects.create(name="other")
    deleted = _post(
        staff_client,
        "/studio/auth/group/",
        {"action": "delete_selected", "_selected_action": [group.pk, second.pk], "post": "yes"},
    )
    assert sorted((e.action, e.target_id) for e in deleted) == sorted(
        [("studio_delete", str(group.pk)), ("studio_delete", str(second.pk))]
    )
    assert not Group.objects.exists()


def test_admin_actions_write_one_event_each(staff_client, org, client_for, user):
    app_client = client_for(user)
    revoked = _post(
        staff_client,
        "/studio/authn/session/",
        {"action": "revoke_sessions", "_selected_action": [str(app_client.session_id)]},
    )
    assert [(e.action, e.target_id) for e in revoked] == [
        ("session_revoke", str(app_client.session_id))
    ]

    assert alerts.raise_event("backup_failed", key="nightly", org_id=org.id) == "fired"
    from observability.models import Alert

    alert = Alert.objects.get(org=org)
    acknowledged = _post(
        staff_client,
        "/studio/observability/alert/",
        {"action": "acknowledge", "_selected_action": [str(alert.pk)]},
    )
    assert [(e.action, e.org_id) for e in acknowledged] == [("alert_acknowledge", org.id)]
    assert acknowledged[0].actor_id == staff_client.staff.pk
