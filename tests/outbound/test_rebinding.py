"""DNS that changes after registration: a webhook, a scheduled job and an alert channel whose
host resolved to a public address when registered, and to loopback when the time comes to
send, are refused at send time. The tenant sees "refused"; nothing reaches the address."""

import pytest

from compute.models import JobRun, WebhookDelivery
from compute.tasks import deliver_webhook, run_scheduled_job
from observability.models import AlertDelivery
from observability.tasks import deliver_test_notification
from tenants.context import TenantContext, tenant_context
from tests.factories import UserFactory
from tests.outbound.conftest import PUBLIC

HOST = "hooks.example.test"


@pytest.fixture
def user(committed):
    """Committed for real (the shared ``org`` builds on it): deliveries run after commit."""
    return UserFactory()


@pytest.fixture
def rebinding(fake_dns, settings):
    """Public at registration; ``rebind()`` turns the answer to loopback, which production
    settings (no allowed networks) refuse."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    fake_dns.answers[HOST] = [PUBLIC]

    def rebind():
        fake_dns.answers[HOST] = ["127.0.0.1"]

    return rebind


def _url(receiver, path: str) -> str:
    return f"http://{HOST}:{receiver.server.server_port}{path}"


def test_a_webhook_rebound_to_loopback_is_refused_at_delivery(
    org, user, client_for, receiver, rebinding, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "p"}, "json").json()
    base = f"/api/v1/orgs/org-a/projects/{project['id']}"
    client.post(f"{base}/collections/", {"name": "orders"}, "json")
    hook = client.post(
        f"{base}/webhooks/", {"url": _url(receiver, "/hook"), "events": ["insert"]}, "json"
    )
    assert hook.status_code == 201, hook.content
    client.post(f"{base}/collections/orders/records/", {"data": {}}, "json")
    rebinding()
    with tenant_context(TenantContext(org_id=org.id)):
        (delivery,) = WebhookDelivery.objects.all()
    deliver_webhook.apply(args=[str(delivery.pk), str(org.id), project["id"]])

    assert receiver.requests == []
    (seen,) = client.get(f"{base}/webhooks/{hook.json()['id']}/deliveries/").json()
    assert (seen["status"], seen["last_error"], seen["response_status"]) == (
        "failed", "refused", None,
    )  # fmt: skip


def test_a_job_rebound_to_loopback_is_refused_when_it_runs(
    org, user, client_for, receiver, rebinding
):
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "p"}, "json").json()
    jobs = f"/api/v1/orgs/org-a/projects/{project['id']}/jobs/"
    job = client.post(
        jobs, {"name": "nightly", "schedule": "0 3 * * *", "url": _url(receiver, "/job")}, "json"
    )
    assert job.status_code == 201, job.content
    rebinding()
    assert run_scheduled_job.apply(args=[job.json()["id"], str(org.id)]).get() is False

    assert receiver.requests == []
    (run,) = client.get(f"{jobs}{job.json()['id']}/runs/").json()
    assert (run["succeeded"], run["error"], run["response_status"]) == (False, "refused", None)
    with tenant_context(TenantContext(org_id=org.id)):
        assert JobRun.objects.count() == 1


@pytest.mark.parametrize("kind", ["webhook", "slack", "pagerduty"])
def test_an_alert_channel_rebound_to_loopback_is_refused_when_notified(
    kind, org, user, client_for, receiver, rebinding
):
    client = client_for(user)
    channel = client.post(
        "/api/v1/orgs/org-a/alert-channels",
        {"name": "ops", "kind": kind, "target": _url(receiver, "/alert"), "secret": "K"},
        format="json",
    )
    assert channel.status_code == 201, channel.content
    rebinding()
    assert deliver_test_notification.apply(args=[channel.json()["id"], str(org.id)]).get() is False

    assert receiver.requests == []
    with tenant_context(TenantContext(org_id=org.id)):
        (attempt,) = AlertDelivery.objects.all()
    assert (attempt.ok, attempt.error, attempt.status_code) == (False, "refused", None)


def test_the_same_delivery_goes_through_when_the_answer_stays_allowed(
    org, user, client_for, receiver, fake_dns, settings
):
    """The control: what the tests above refuse is the address, not the name or the path."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    fake_dns.answers[HOST] = ["127.0.0.1"]
    client = client_for(user)
    channel = client.post(
        "/api/v1/orgs/org-a/alert-channels",
        {"name": "ops", "kind": "webhook", "target": _url(receiver, "/alert")},
        format="json",
    )
    assert deliver_test_notification.apply(args=[channel.json()["id"], str(org.id)]).get() is True
    assert len(receiver.to("/alert")) == 1
