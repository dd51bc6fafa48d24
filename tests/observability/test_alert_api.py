"""The org's alert channels API: validation in the one error shape, roles, secrets kept."""

import pytest

from tenants import services as tenant_services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/orgs/org-a/alert-channels"


def test_invalid_channels_are_400(client_for, user, org):
    client = client_for(user)
    cases = [
        {"name": "x", "kind": "carrier-pigeon", "target": "http://127.0.0.1/"},
        {"name": "x", "kind": "slack", "target": "not a url"},
        {"name": "x", "kind": "email", "target": "not-an-address"},
        {"name": "x", "kind": "pagerduty", "target": "http://127.0.0.1/v2/enqueue"},
        {"name": "x", "kind": "slack", "target": "http://127.0.0.1/", "escalation_level": -1},
    ]
    for body in cases:
        response = client.post(URL, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["code"] == "invalid"


def test_viewers_read_but_do_not_manage(client_for, user, org):
    viewer = UserFactory()
    membership = org.memberships.get(user=user)
    tenant_services.member_add(membership=membership, email=viewer.email, role="viewer")
    created = client_for(user).post(
        URL,
        {"name": "pd", "kind": "pagerduty", "target": "http://127.0.0.1/e", "secret": "RK"},
        format="json",
    )
    assert created.status_code == 201
    assert "secret" not in created.json()
    channel_id = created.json()["id"]
    as_viewer = client_for(viewer)
    assert [c["id"] for c in as_viewer.get(URL).json()] == [channel_id]
    assert as_viewer.post(f"{URL}/{channel_id}/test").status_code == 403
    assert as_viewer.delete(f"{URL}/{channel_id}").status_code == 403
    assert client_for(user).delete(f"{URL}/{channel_id}").status_code == 204
    assert client_for(user).get(f"{URL}/{channel_id}").status_code == 404
    unknown = client_for(user).post(f"{URL}/00000000-0000-0000-0000-000000000000/test")
    assert unknown.status_code == 404
