"""Per-project fairness, on a real Celery worker (one process, one task at a time) and the
real broker: a burst of deliveries from one project does not hold back another project's."""

import pytest

from cache.client import get_redis
from compute.constants import DeliveryStatus
from compute.models import WebhookDelivery
from tenants.context import TenantContext, tenant_context
from tests.observability.conftest import celery_worker, wait_until  # noqa: F401 (fixture)

LIMIT, WINDOW, BURST = 4, 2, 20


@pytest.fixture
def fair_rate(monkeypatch):
    """The worker's OUTBOUND_PROJECT_RATE; the queue starts empty (earlier tests' leftovers)."""
    monkeypatch.setenv("OUTBOUND_PROJECT_RATE", f"{LIMIT}/{WINDOW}")
    get_redis().delete("celery")


@pytest.fixture
def worker(fair_rate, celery_worker):  # noqa: F811 (the fixture imported above)
    return celery_worker


def _project_with_hook(client, name: str, url: str) -> str:
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": name}, "json").json()
    base = f"/api/v1/orgs/org-a/projects/{project['id']}"
    assert client.post(f"{base}/collections/", {"name": "items"}, "json").status_code == 201
    hook = client.post(f"{base}/webhooks/", {"url": url, "events": ["insert"]}, "json")
    assert hook.status_code == 201, hook.content
    return base


@pytest.mark.slow
def test_a_burst_from_one_project_does_not_delay_another_projects_delivery(
    org, user, client_for, receiver, worker
):
    client = client_for(user)
    busy = _project_with_hook(client, "busy", receiver.url + "/busy")
    quiet = _project_with_hook(client, "quiet", receiver.url + "/quiet")

    burst = client.post(
        f"{busy}/collections/items/records/",
        {"items": [{"data": {"n": n}} for n in range(BURST)]},
        format="json",
    )
    assert burst.status_code == 201, burst.content
    # Queued after the whole burst, on the same queue, for the same single worker process.
    assert (
        client.post(f"{quiet}/collections/items/records/", {"data": {}}, "json").status_code == 201
    )

    wait_until(lambda: len(receiver.requests) == BURST + 1, timeout=120, interval=0.2)
    order = [request["path"] for request in receiver.requests]
    # Without per-project turns the quiet project's delivery would arrive last (position BURST).
    # With them it waits for at most the busy project's share of two windows.
    assert order.index("/quiet") <= 2 * LIMIT, order
    assert order.count("/busy") == BURST

    def deliveries_now():
        with tenant_context(TenantContext(org_id=org.id)):
            return list(WebhookDelivery.objects.all())

    # The receiver records a POST on arrival; the worker marks its delivery once answered.
    wait_until(
        lambda: all(d.status != DeliveryStatus.PENDING for d in deliveries_now()), timeout=30
    )
    deliveries = deliveries_now()
    assert len(deliveries) == BURST + 1
    # Waiting for a turn is not an attempt.
    assert {(d.status, d.attempts) for d in deliveries} == {(DeliveryStatus.SUCCEEDED, 1)}
