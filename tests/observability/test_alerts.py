"""Alerting against a local HTTP server speaking for Slack and PagerDuty (their wire formats)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from observability import alerts, redis_alerts
from observability.constants import AlertState, ChannelKind, RuleKind
from observability.models import Alert, AlertChannel, AlertDelivery, AlertRule
from tenants import services as tenant_services
from tenants.context import TenantContext, tenant_context
from tests.factories import UserFactory
from tests.observability.conftest import wait_until
from tests.tokens import access_token

RUNBOOKS = "https://runbooks.example.com/platform"


def _channel(**fields) -> AlertChannel:
    with tenant_context(TenantContext(platform_admin=True)):
        return AlertChannel.objects.create(**fields)


def _open_alerts() -> list[Alert]:
    with tenant_context(TenantContext(platform_admin=True)):
        return list(Alert.objects.exclude(state=AlertState.RESOLVED))


@pytest.mark.slow
def test_redis_down_fires_once_escalates_and_resolves(
    committed, own_redis, receiver, mailoutbox, settings
):
    settings.ALERT_RUNBOOK_BASE_URL = RUNBOOKS
    owner = UserFactory()
    org = tenant_services.org_create(actor=owner, name="Org A", slug="org-a")
    _channel(name="ops slack", kind=ChannelKind.SLACK, target=receiver.url + "/slack")
    _channel(
        name="ops email", kind=ChannelKind.EMAIL, target="ops@example.com", min_severity="critical"
    )
    _channel(
        name="on-call",
        kind=ChannelKind.PAGERDUTY,
        target=receiver.url + "/pagerduty",
        secret="R0UTINGKEY",
        escalation_level=1,
    )
    # An org's own channel never hears about platform incidents.
    _channel(org=org, name="org slack", kind=ChannelKind.SLACK, target=receiver.url + "/org")
    t0 = timezone.now()
    assert alerts.evaluate(now=t0)["fired"] == 0
    with tenant_context(TenantContext(platform_admin=True)):
        AlertRule.objects.filter(kind=RuleKind.REDIS_DOWN).update(escalate_after_minutes=5)

    own_redis.stop()
    assert alerts.evaluate(now=t0 + timedelta(minutes=1))["fired"] == 1
    assert alerts.evaluate(now=t0 + timedelta(minutes=2))["fired"] == 0  # deduplicated
    (alert,) = _open_alerts()
    assert alert.dedup_key == "redis_down" and alert.state == AlertState.FIRING

    (slack,) = receiver.to("/slack")
    assert "Redis down" in slack["json"]["text"] and "FIRING" in slack["json"]["text"]
    assert f"{RUNBOOKS}/redis-down" in slack["json"]["text"]
    assert f"<{RUNBOOKS}/redis-down|Runbook>" in str(slack["json"]["blocks"])
    assert slack["headers"]["Content-Type"] == "application/json"
    assert len(mailoutbox) == 1 and f"{RUNBOOKS}/redis-down" in mailoutbox[0].body
    assert receiver.to("/pagerduty") == [] and receiver.to("/org") == []

    # Not acknowledged within 5 minutes: the next level (PagerDuty) is paged, once.
    assert alerts.evaluate(now=t0 + timedelta(minutes=4))["escalated"] == 0
    assert alerts.evaluate(now=t0 + timedelta(minutes=7))["escalated"] == 1
    assert alerts.evaluate(now=t0 + timedelta(minutes=8))["escalated"] == 0
    (page,) = receiver.to("/pagerduty")
    event = page["json"]
    assert event["routing_key"] == "R0UTINGKEY"
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "redis_down"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["source"] == "platform"
    assert "Redis down" in event["payload"]["summary"]
    assert event["links"] == [{"href": f"{RUNBOOKS}/redis-down", "text": "Runbook"}]
    assert len(receiver.to("/slack")) == 1

    own_redis.start()
    # The breaker lets a trial call through after its reset timeout.
    wait_until(
        lambda: alerts.evaluate(now=t0 + timedelta(minutes=10))["resolved"] == 1,
        timeout=30,
        interval=0.5,
    )
    assert _open_alerts() == []
    resolved_slack = receiver.to("/slack")[-1]["json"]
    assert (
        "RESOLVED" in resolved_slack["text"] and f"{RUNBOOKS}/redis-down" in resolved_slack["text"]
    )
    resolve = receiver.to("/pagerduty")[-1]["json"]
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": "redis_down",
    }
    assert len(mailoutbox) == 2 and "RESOLVED" in mailoutbox[1].subject
    assert receiver.to("/org") == []
    with tenant_context(TenantContext(platform_admin=True)):
        assert AlertDelivery.objects.filter(ok=True).count() == 6


def test_acknowledged_org_alert_does_not_escalate(committed, receiver, client_for):
    owner = UserFactory()
    org = tenant_services.org_create(actor=owner, name="Org A", slug="org-a")
    other = tenant_services.org_create(actor=UserFactory(), name="Org B", slug="org-b")
    client = client_for(owner)
    for body in (
        {"name": "pd", "kind": "pagerduty", "target": receiver.url + "/pd", "secret": "KEY"},
        {
            "name": "later",
            "kind": "slack",
            "target": receiver.url + "/later",
            "escalation_level": 1,
        },
        {
            "name": "critical only",
            "kind": "slack",
            "target": receiver.url + "/critical",
            "min_severity": "critical",
        },
    ):
        assert (
            client.post("/api/v1/orgs/org-a/alert-channels", body, format="json").status_code == 201
        )

    t0 = timezone.now()
    # Below the rule's threshold nothing fires; above it, once.
    assert alerts.raise_event("hotkey", key="user:42", value=10, org_id=org.id, now=t0) is None
    assert alerts.raise_event("hotkey", key="user:42", value=5000, org_id=org.id, now=t0) == "fired"
    assert (
        alerts.raise_event("hotkey", key="user:42", value=6000, org_id=org.id, now=t0) == "updated"
    )
    (trigger,) = receiver.to("/pd")
    assert trigger["json"]["event_action"] == "trigger"
    assert trigger["json"]["dedup_key"] == "hotkey:user:42"
    assert trigger["json"]["links"][0]["href"] == f"{RUNBOOKS}/hotkey"
    assert receiver.to("/critical") == []  # a warning does not reach a critical-only channel

    listed = client.get("/api/v1/orgs/org-a/alerts").json()
    assert [(a["kind"], a["state"]) for a in listed] == [("hotkey", "firing")]
    assert listed[0]["runbook_url"] == f"{RUNBOOKS}/hotkey"
    # Another org sees nothing of it.
    with tenant_context(TenantContext(org_id=other.id)):
        assert Alert.objects.count() == 0

    acked = client.post(f"/api/v1/orgs/org-a/alerts/{listed[0]['id']}/acknowledge")
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    assert receiver.to("/pd")[-1]["json"] == {
        "routing_key": "KEY",
        "event_action": "acknowledge",
        "dedup_key": "hotkey:user:42",
    }
    assert alerts.evaluate(now=t0 + timedelta(hours=2))["escalated"] == 0
    assert receiver.to("/later") == []

    assert alerts.raise_event("hotkey", key="user:42", resolve=True, org_id=org.id) == "resolved"
    assert receiver.to("/pd")[-1]["json"]["event_action"] == "resolve"


def test_error_rate_rule_fires_from_tracked_errors(committed, receiver, monkeypatch):
    from observability import services

    monkeypatch.setattr(alerts, "_SIGNALS", {})  # only the error-rate rule has data here
    _channel(name="ops", kind=ChannelKind.WEBHOOK, target=receiver.url + "/hook")
    alerts.evaluate()
    with tenant_context(TenantContext(platform_admin=True)):
        AlertRule.objects.filter(kind=RuleKind.ERROR_RATE).update(threshold=1, window_minutes=1)
    for _ in range(3):
        try:
            raise ValueError("x")
        except ValueError as exc:
            services.error_record(exc=exc, source="http")
    assert alerts.evaluate()["fired"] == 1
    (hook,) = receiver.to("/hook")
    assert hook["json"]["action"] == "trigger"
    assert hook["json"]["alert"]["kind"] == "error_rate"
    assert hook["json"]["alert"]["runbook_url"].endswith("/error-rate")


def test_signals_feed_polled_rules(committed, receiver):
    _channel(name="ops", kind=ChannelKind.SLACK, target=receiver.url + "/slack")
    value = {"hit_rate": 0.9}
    alerts.register_signal("cache_hit_rate", lambda: alerts.Reading(value["hit_rate"], 500))
    try:
        assert alerts.evaluate()["fired"] == 0
        value["hit_rate"] = 0.2
        assert alerts.evaluate()["fired"] == 1
        value["hit_rate"] = 0.8
        assert alerts.evaluate()["resolved"] == 1
    finally:
        alerts.register_signal("cache_hit_rate", redis_alerts.server_hit_rate, windowed=True)
    texts = [r["json"]["text"] for r in receiver.to("/slack")]
    assert [t.split("]")[0] for t in texts] == ["[FIRING", "[RESOLVED"]


def test_operators_see_recent_alerts_of_every_org(committed, client_for):
    from rest_framework.test import APIClient

    owner = UserFactory()
    org = tenant_services.org_create(actor=owner, name="Org A", slug="org-a")
    alerts.raise_event("backup_failed", key="nightly", summary="pg_dump exited 1")
    alerts.raise_event("hotkey", key="user:1", value=9000, org_id=org.id)
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(UserFactory(is_staff=True))}")
    rows = staff.get("/health/alerts").json()["alerts"]
    assert {(r["kind"], r["state"]) for r in rows} == {
        ("backup_failed", "firing"),
        ("hotkey", "firing"),
    }
    assert any(r["summary"] == "pg_dump exited 1" for r in rows)
    assert client_for(owner).get("/health/alerts").status_code == 403


@pytest.mark.django_db
def test_raise_event_inside_a_request_keeps_the_requests_org_context(user, org):
    from django.db import connection, transaction

    from tenants.context import set_tenant_context

    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role="owner"))
        assert alerts.raise_event("hotkey", key="k", value=99999, org_id=org.id) == "fired"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('app.org_id', true), current_setting("
                "'app.platform_admin', true)"
            )
            assert cursor.fetchone() == (str(org.id), "")
        assert [a.dedup_key for a in Alert.objects.all()] == ["hotkey:k"]  # visible to the org


@pytest.fixture
def no_signal_data(monkeypatch):
    """The polled signals have no data: only the events a test raises fire (the real Redis's
    hit rate and the latency histogram depend on what ran before)."""
    monkeypatch.setattr(alerts, "_SIGNALS", {name: lambda **kw: None for name in alerts._SIGNALS})


def test_refused_notifications_are_retried_a_bounded_number_of_times(
    committed, receiver, no_signal_data
):
    _channel(name="flaky", kind=ChannelKind.SLACK, target=receiver.url + "/flaky")
    alerts.evaluate()
    receiver.status = 503
    assert alerts.raise_event("backup_failed", key="nightly") == "fired"
    assert alerts.evaluate()["retried"] == 1
    assert len(receiver.to("/flaky")) == 2
    receiver.status = 200
    assert alerts.evaluate()["retried"] == 1
    assert alerts.evaluate()["retried"] == 0  # delivered: nothing left to retry
    assert len(receiver.to("/flaky")) == 3

    receiver.status = 500
    assert alerts.raise_event("backup_failed", key="weekly") == "fired"
    for _ in range(5):
        alerts.evaluate()
    weekly = [r for r in receiver.to("/flaky") if "weekly" in str(r["json"])]
    assert len(weekly) == 3  # ALERT_DELIVERY_ATTEMPTS


def test_a_signal_rule_needs_a_minimum_sample_to_fire(committed, settings):
    settings.ALERT_MIN_SAMPLES = 100
    reading = {"now": alerts.Reading(0.0, 99)}  # every lookup a miss, but only 99 of them
    alerts.register_signal("cache_hit_rate", lambda: reading["now"])
    try:
        assert alerts.evaluate()["fired"] == 0
        assert not _open_alerts()
        reading["now"] = alerts.Reading(0.1, 100)
        assert alerts.evaluate()["fired"] == 1
        (alert,) = _open_alerts()
        assert "100 samples in 15 min" in alert.summary
        reading["now"] = alerts.Reading(0.1, 3)  # traffic stopped: nothing shows a low rate now
        assert alerts.evaluate()["resolved"] == 1
    finally:
        alerts.register_signal("cache_hit_rate", redis_alerts.server_hit_rate, windowed=True)


def test_the_evaluation_task_takes_its_lock_and_evaluates_without_it_while_redis_is_down(
    own_redis, monkeypatch
):
    """One round at a time via a Redis lock (tests/test_shared_state.py runs two at once);
    with Redis down there is no lock to take, and the round still runs: that is when the
    "Redis down" rule has to fire."""
    from cache.client import get_redis
    from observability import tasks

    rounds = []

    def round_(**kwargs):
        rounds.append(get_redis().exists(tasks.EVALUATION_LOCK_KEY) if not rounds else "ran")
        return {"fired": 0}

    monkeypatch.setattr(tasks.alerts, "evaluate", round_)
    assert tasks.evaluate_alerts() == {"fired": 0}
    assert rounds == [1] and not get_redis().exists(tasks.EVALUATION_LOCK_KEY)  # released
    own_redis.stop()
    assert tasks.evaluate_alerts() == {"fired": 0}
    assert rounds == [1, "ran"]
