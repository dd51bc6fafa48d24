"""Unhandled exceptions grouped by fingerprint (HTTP, Celery, websocket), 24 h window, pruning."""

from datetime import timedelta

import pytest
from celery import shared_task
from django.test import Client
from django.utils import timezone

from observability import selectors, services
from observability.models import ErrorGroup, ErrorOccurrence
from observability.tracking import capture_consumer_exception, track_consumer_errors
from tests.tokens import access_token

pytestmark = pytest.mark.django_db(databases=["default", "owner"])


@shared_task(name="tests.observability.explode")
def explode(n):
    raise KeyError(f"missing {n}")


def _groups():
    return {g.exc_type: g for g in ErrorGroup.objects.using("owner").all()}


@pytest.mark.urls("tests.observability.boom_urls")
def test_five_view_errors_and_two_task_errors_make_two_groups(user, org, client_for):

    client = Client(
        raise_request_exception=False,
        HTTP_AUTHORIZATION=f"Bearer {access_token(user)}",
    )
    for n in range(5):
        response = client.get("/api/v1/orgs/org-a/boom", HTTP_X_REQUEST_ID=f"req-{n}")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "server_error"
    for n in range(2):
        result = explode.apply(args=[n])
        assert result.failed()

    groups = _groups()
    assert set(groups) == {"builtins.ValueError", "builtins.KeyError"}
    view, task = groups["builtins.ValueError"], groups["builtins.KeyError"]
    assert (view.count, task.count) == (5, 2)
    assert view.source == "http" and task.source == "celery"
    assert view.location == "tests/observability/boom_urls.py:boom"
    assert view.sample_request_id == "req-4"
    assert view.sample_org_id == org.id
    assert view.first_seen <= view.last_seen

    recent = {g.exc_type: g.count_24h for g in selectors.error_groups_recent()}
    assert recent == {"builtins.ValueError": 5, "builtins.KeyError": 2}


def test_websocket_consumer_errors_are_grouped(org):
    class Consumer:
        scope = {"request_id": "ws-1", "org_id": str(org.id)}

        @track_consumer_errors
        def receive(self, text_data=None):
            raise RuntimeError("bad frame")

    for _ in range(3):
        with pytest.raises(RuntimeError):
            Consumer().receive("{}")
    (group,) = ErrorGroup.objects.using("owner").all()
    assert (group.source, group.count, group.sample_request_id) == ("websocket", 3, "ws-1")
    assert group.sample_org_id == org.id

    try:
        raise LookupError("elsewhere")
    except LookupError as exc:
        capture_consumer_exception(exc, {"request_id": "ws-2"})
    assert ErrorGroup.objects.using("owner").count() == 2


def test_rolling_window_and_pruning():
    try:
        raise ValueError("old")
    except ValueError as exc:
        old = services.error_record(exc=exc, source="http")
    try:
        raise TypeError("new")
    except TypeError as exc:
        new = services.error_record(exc=exc, source="http")
    long_ago = timezone.now() - timedelta(hours=30)
    ErrorGroup.objects.using("owner").filter(pk=old.pk).update(
        first_seen=long_ago, last_seen=long_ago
    )
    ErrorOccurrence.objects.using("owner").filter(group=old).update(at=long_ago)

    assert [g.pk for g in selectors.error_groups_recent()] == [new.pk]
    pruned = services.errors_prune()
    assert pruned == {"occurrences": 1, "groups": 1}
    assert list(ErrorGroup.objects.using("owner").values_list("pk", flat=True)) == [new.pk]


def test_staff_see_the_24h_view(staff_client, client):
    try:
        raise ValueError("visible")
    except ValueError as exc:
        services.error_record(exc=exc, source="http", request_id="r-1")
    assert client.get("/health/errors").status_code == 403
    (row,) = staff_client.get("/health/errors").json()["errors"]
    assert (row["type"], row["count"], row["count_24h"]) == ("builtins.ValueError", 1, 1)
    assert row["sample_request_id"] == "r-1"
