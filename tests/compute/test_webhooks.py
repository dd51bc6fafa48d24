"""Database webhooks: record writes reach the configured URL, signed, with the write's
request id, retried on failure; only matching events and collections; org-isolated."""

import hashlib
import hmac

import pytest

from compute.constants import DeliveryStatus
from compute.models import WebhookDelivery
from compute.tasks import deliver_webhook
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory
from tests.servers import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def project(org, user, client_for):
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "shop"}, format="json").json()
    for name in ("orders", "notes"):
        created = client.post(
            f"/api/v1/orgs/org-a/projects/{project['id']}/collections/", {"name": name}, "json"
        )
        assert created.status_code == 201, created.content
    return project


def base(project) -> str:
    return f"/api/v1/orgs/org-a/projects/{project['id']}"


def run_pending(org) -> list[WebhookDelivery]:
    set_tenant_context(TenantContext(org_id=org.id))
    pending = list(WebhookDelivery.objects.exclude(status=DeliveryStatus.SUCCEEDED))
    for delivery in pending:
        deliver_webhook.apply(args=[str(delivery.pk), str(org.id)])
    set_tenant_context(TenantContext(org_id=org.id))
    return list(WebhookDelivery.objects.order_by("created_at"))


def test_a_record_write_is_delivered_signed_with_its_request_id(
    org, user, client_for, project, receiver, django_capture_on_commit_callbacks
):
    client = client_for(user)
    hook = client.post(
        f"{base(project)}/webhooks/",
        {"url": receiver.url + "/hook", "events": ["insert", "update"], "collection": "orders"},
        format="json",
    )
    assert hook.status_code == 201, hook.content
    secret = hook.json()["secret"]
    assert client.get(f"{base(project)}/webhooks/").json()[0]["secret_hint"] == "..." + secret[-4:]
    assert "secret" not in client.get(f"{base(project)}/webhooks/").json()[0]

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"{base(project)}/collections/orders/records/",
            {"data": {"total": 42}},
            format="json",
            HTTP_X_REQUEST_ID="order-write-1",
        )
    assert created.status_code == 201, created.content
    (delivery,) = run_pending(org)
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1

    (sent,) = receiver.to("/hook")
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-request-id"] == "order-write-1"
    assert headers["x-platform-event"] == "insert"
    expected = hmac.new(
        secret.encode(),
        f"{headers['x-platform-timestamp']}.".encode() + sent["raw"],
        hashlib.sha256,
    ).hexdigest()
    assert headers["x-platform-signature"] == "v1=" + expected
    assert sent["json"]["record"]["data"] == {"total": 42}
    assert sent["json"]["record"]["id"] == created.json()["id"]
    assert sent["json"]["collection"] == "orders"

    deliveries = client.get(f"{base(project)}/webhooks/{hook.json()['id']}/deliveries/").json()
    assert [d["status"] for d in deliveries] == ["succeeded"]


def test_only_matching_events_and_collections_are_delivered(
    org, user, client_for, project, receiver, django_capture_on_commit_callbacks
):
    client = client_for(user)
    client.post(
        f"{base(project)}/webhooks/",
        {"url": receiver.url + "/deletes", "events": ["delete"], "collection": "orders"},
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
        client.post(f"{base(project)}/collections/notes/records/", {"data": {}}, "json")
        client.patch(
            f"{base(project)}/collections/orders/records/{record.json()['id']}/",
            {"data": {"a": 1}},
            format="json",
        )
    assert run_pending(org) == []
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(f"{base(project)}/collections/orders/records/{record.json()['id']}/")
    (delivery,) = run_pending(org)
    assert delivery.event == "delete"
    assert [r["json"]["type"] for r in receiver.to("/deletes")] == ["delete"]


def test_failures_are_retried_then_given_up(
    org, user, client_for, project, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    receiver.status = 500
    client = client_for(user)
    client.post(
        f"{base(project)}/webhooks/", {"url": receiver.url + "/down", "events": ["insert"]}, "json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
    (delivery,) = run_pending(org)  # eager retries run in place
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3 and delivery.response_status == 500
    assert len(receiver.to("/down")) == 3


def test_viewers_cannot_manage_webhooks_and_bad_input_is_400(org, user, client_for, project):
    client = client_for(user)
    bad = client.post(
        f"{base(project)}/webhooks/", {"url": "ftp://x", "events": ["explode"]}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"url", "events"}
    viewer = UserFactory()
    client.post("/api/v1/orgs/org-a/members/", {"email": viewer.email, "role": "viewer"}, "json")
    denied = client_for(viewer).post(
        f"{base(project)}/webhooks/", {"url": "https://x.test", "events": ["insert"]}, "json"
    )
    assert denied.status_code == 403


def test_another_orgs_writes_never_reach_this_orgs_webhooks(
    org, other_org, user, other_user, client_for, project, receiver,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    client_for(user).post(
        f"{base(project)}/webhooks/", {"url": receiver.url + "/a", "events": ["insert"]}, "json"
    )
    other = client_for(other_user)
    other_project = other.post("/api/v1/orgs/org-b/projects/", {"name": "shop"}, "json").json()
    other.post(
        f"/api/v1/orgs/org-b/projects/{other_project['id']}/collections/",
        {"name": "orders"},
        "json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        other.post(
            f"/api/v1/orgs/org-b/projects/{other_project['id']}/collections/orders/records/",
            {"data": {"secret": True}},
            format="json",
        )
    assert run_pending(org) == []
