"""Database webhooks: record writes reach the configured URL, signed, with the write's
request id, retried on failure; only matching events and collections; org-isolated; the POST
holds no database connection while the receiver takes its time."""

import hashlib
import hmac
import threading

import pytest
from django.db import connections

from compute.constants import DeliveryStatus
from compute.models import WebhookDelivery
from compute.tasks import deliver_webhook
from tenants.context import TenantContext, tenant_context
from tests.factories import UserFactory
from tests.observability.conftest import wait_until


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


def deliveries(org) -> list[WebhookDelivery]:
    with tenant_context(TenantContext(org_id=org.id)):
        return list(WebhookDelivery.objects.select_related("webhook").order_by("created_at"))


def run_pending(org) -> list[WebhookDelivery]:
    """What the worker does with the queued tasks (eagerly: retries run in place)."""
    for delivery in deliveries(org):
        if delivery.status != DeliveryStatus.SUCCEEDED:
            deliver_webhook.apply(
                args=[str(delivery.pk), str(org.id), str(delivery.webhook.project_id)]
            )
    return deliveries(org)


def test_a_record_write_is_delivered_signed_with_its_request_id(
    org, user, client_for, project, receiver
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
    org, user, client_for, project, receiver
):
    client = client_for(user)
    client.post(
        f"{base(project)}/webhooks/",
        {"url": receiver.url + "/deletes", "events": ["delete"], "collection": "orders"},
        format="json",
    )
    record = client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
    client.post(f"{base(project)}/collections/notes/records/", {"data": {}}, "json")
    client.patch(
        f"{base(project)}/collections/orders/records/{record.json()['id']}/",
        {"data": {"a": 1}},
        format="json",
    )
    assert run_pending(org) == []
    client.delete(f"{base(project)}/collections/orders/records/{record.json()['id']}/")
    (delivery,) = run_pending(org)
    assert delivery.event == "delete"
    assert [r["json"]["type"] for r in receiver.to("/deletes")] == ["delete"]


def test_failures_are_retried_then_given_up(org, user, client_for, project, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    receiver.status = 500
    client = client_for(user)
    client.post(
        f"{base(project)}/webhooks/", {"url": receiver.url + "/down", "events": ["insert"]}, "json"
    )
    client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
    (delivery,) = run_pending(org)  # eager retries run in place
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3 and delivery.response_status == 500
    assert delivery.last_error == "HTTP 500"
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
    org, other_org, user, other_user, client_for, project, receiver
):
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
    other.post(
        f"/api/v1/orgs/org-b/projects/{other_project['id']}/collections/orders/records/",
        {"data": {"secret": True}},
        format="json",
    )
    assert run_pending(org) == []


def test_a_slow_receiver_holds_no_database_connection(
    org, user, client_for, project, receiver, settings
):
    client = client_for(user)
    client.post(
        f"{base(project)}/webhooks/", {"url": receiver.url + "/slow", "events": ["insert"]}, "json"
    )
    client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
    (delivery,) = deliveries(org)
    receiver.delay = 5.0  # each request is answered after 5 s (or once released)
    connections["default"].close()  # this thread's own connection back to the pool
    pool = connections["default"].pool

    def in_use() -> int:
        stats = pool.get_stats()
        return stats["pool_size"] - stats["pool_available"]

    def deliver():
        try:
            deliver_webhook.apply(args=[str(delivery.pk), str(org.id), project["id"]])
        finally:
            connections.close_all()

    # What the process's other threads hold now (a server thread of an earlier test that is
    # still finishing): the delivery must add nothing to it while its POST is in flight.
    baseline = in_use()
    worker = threading.Thread(target=deliver)
    worker.start()
    try:
        wait_until(lambda: receiver.to("/slow"), timeout=10)
        # The POST is in flight and the receiver has not answered: no connection is out.
        assert wait_until(lambda: in_use() <= baseline, timeout=4, interval=0.05)
        assert worker.is_alive() and not receiver.release.is_set()
        # Nor does PostgreSQL see a transaction of the app role left open meanwhile.
        with connections["owner"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE usename = %s AND state LIKE 'idle in transaction%%'",
                [settings.DATABASE_APP_USER],
            )
            assert cursor.fetchone()[0] == 0
    finally:
        receiver.release.set()
        worker.join(timeout=30)
    (delivery,) = deliveries(org)
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


def test_active_false_on_create_is_kept_and_not_delivered(org, user, client_for, project, receiver):
    client = client_for(user)
    hook = client.post(
        f"{base(project)}/webhooks/",
        {"url": receiver.url + "/off", "events": ["insert"], "active": False},
        format="json",
    )
    assert hook.status_code == 201, hook.content
    assert hook.json()["active"] is False
    client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
    assert run_pending(org) == [] and receiver.to("/off") == []

    turned_on = client.patch(
        f"{base(project)}/webhooks/{hook.json()['id']}/", {"active": True}, format="json"
    )
    assert turned_on.status_code == 200 and turned_on.json()["active"] is True
    client.post(f"{base(project)}/collections/orders/records/", {"data": {}}, "json")
    assert [d.status for d in run_pending(org)] == [DeliveryStatus.SUCCEEDED]
    assert len(receiver.to("/off")) == 1


def test_a_webhook_names_a_collection_of_its_own_project(org, user, client_for, project):
    client = client_for(user)
    other = client.post("/api/v1/orgs/org-a/projects/", {"name": "other"}, format="json").json()
    created = client.post(
        f"/api/v1/orgs/org-a/projects/{other['id']}/collections/", {"name": "elsewhere"}, "json"
    )
    assert created.status_code == 201
    hooks = f"{base(project)}/webhooks/"
    for collection in ("missing", "elsewhere"):  # unknown; another project's
        response = client.post(
            hooks,
            {"url": "http://127.0.0.1:9/h", "events": ["insert"], "collection": collection},
            format="json",
        )
        assert response.status_code == 400, (collection, response.content)
        assert response.json()["error"]["code"] == "invalid"
        assert set(response.json()["error"]["details"]) == {"collection"}
    hook = client.post(
        hooks, {"url": "http://127.0.0.1:9/h", "events": ["insert"], "collection": "orders"}, "json"
    )
    assert hook.status_code == 201
    moved = client.patch(f"{hooks}{hook.json()['id']}/", {"collection": "elsewhere"}, "json")
    assert moved.status_code == 400
    assert set(moved.json()["error"]["details"]) == {"collection"}


def test_a_bulk_create_is_one_delivery_per_record_and_webhook(
    org, user, client_for, project, receiver
):
    client = client_for(user)
    for path in ("/a", "/b"):
        client.post(
            f"{base(project)}/webhooks/",
            {"url": receiver.url + path, "events": ["insert"], "collection": "orders"},
            format="json",
        )
    created = client.post(
        f"{base(project)}/collections/orders/records/",
        {"items": [{"total": n} for n in range(3)]},
        format="json",
        HTTP_X_REQUEST_ID="bulk-1",
    )
    assert created.status_code == 201, created.content
    ids = [r["id"] for r in created.json()["results"]]
    sent = run_pending(org)
    assert len(sent) == 6 and all(d.status == DeliveryStatus.SUCCEEDED for d in sent)
    assert {d.request_id for d in sent} == {"bulk-1"}
    for path in ("/a", "/b"):
        got = sorted((r["json"]["record"]["id"], r["json"]["record"]["data"]["total"])
                     for r in receiver.to(path))  # fmt: skip
        assert got == sorted(zip(ids, range(3), strict=True))
        assert {r["json"]["type"] for r in receiver.to(path)} == {"insert"}
