"""The platform-wide p99: a shared histogram in Redis, fed by every app process, read by the
p99 alert rule and the Studio."""

import random
import time
import urllib.error
import urllib.request

import pytest

from observability import alerts, latency, redis_alerts
from observability.constants import ChannelKind, RuleKind
from observability.models import AlertChannel, AlertRule
from tenants.context import TenantContext, tenant_context
from tests.factories import UserFactory
from tests.servers import AppServer


def _total(window: int = 5) -> int:
    return sum(latency.histogram(window).values())


def test_bucket_edges():
    assert latency.bucket_of(0.2) == 0 and latency.bucket_of(1) == 0
    assert latency.bucket_of(2) == 4 and latency.upper_bound_ms(4) == 2
    assert latency.bucket_of(2.01) == 5
    assert latency.bucket_of(10**9) == latency.BUCKETS - 1  # an hour lands in the last bucket


@pytest.mark.parametrize(
    ("fast", "slow", "expected_ms"),
    [
        (985, 15, 500),  # 1.5 % slow: the p99 is a slow request
        (995, 5, 10),  # 0.5 % slow: the p99 is a fast one
    ],
)
def test_p99_of_a_two_speed_distribution(fast, slow, expected_ms):
    for _ in range(fast):
        assert latency.record(0.010, rate=1.0)
    for _ in range(slow):
        assert latency.record(0.500, rate=1.0)
    p99 = latency.p99_latency_ms(5)
    # Within one bucket (a factor 2^(1/4)) above the true value, never below it.
    assert expected_ms <= p99 < expected_ms * 2**0.25


def test_p99_of_a_random_distribution_is_the_true_p99s_bucket():
    rng = random.Random()
    durations_ms = [rng.lognormvariate(3, 1.2) for _ in range(5000)]
    for ms in durations_ms:
        latency.record(ms / 1000, rate=1.0)
    true_p99 = sorted(durations_ms)[int(0.99 * len(durations_ms)) - 1]
    p99 = latency.p99_latency_ms(5)
    assert true_p99 <= p99 < true_p99 * 2**0.25
    assert p99 == round(latency.upper_bound_ms(latency.bucket_of(true_p99)), 2)
    assert _total() == 5000


def _hincrby_calls() -> int:
    from cache.client import get_redis

    stats = get_redis().info("commandstats").get("cmdstat_hincrby", {})
    return int(stats.get("calls", 0))


def test_samples_wait_in_the_process_and_reach_redis_together():
    """A request does not pay a Redis round trip for its sample: 200 samples of one bucket
    become one HINCRBY (two if the background flush ran in between), and all of them count."""
    before = _hincrby_calls()
    for _ in range(200):
        assert latency.record(0.004, rate=1.0)
    assert latency.flush()
    assert _hincrby_calls() - before <= 2
    assert _total() == 200


def test_a_full_buffer_flushes_at_once(settings):
    settings.LATENCY_FLUSH_SAMPLES = 10
    latency.flush()
    for _ in range(25):
        latency.record(0.004, rate=1.0)
    assert latency._pending.samples <= 5  # two flushes of ten ran inside record()
    assert _total() == 25


def test_window_merges_minutes_and_leaves_older_ones_out():
    now = time.time()
    for _ in range(100):
        latency.record(0.005, rate=1.0, at=now)
        latency.record(2.0, rate=1.0, at=now - 180)  # three minutes ago
    assert _total(1) == 100 and latency.p99_latency_ms(1) < 10
    assert _total(5) == 200 and latency.p99_latency_ms(5) >= 2000
    assert latency.p99_latency_ms(5) is not None
    assert latency.summary(5)["samples"] == 200


def test_no_data_is_none_and_sampling_drops_requests():
    assert latency.p99_latency_ms(5) is None
    assert not any(latency.record(0.01, rate=0.0) for _ in range(50))
    recorded = sum(latency.record(0.01, rate=0.5) for _ in range(400))
    assert 100 < recorded < 300 and _total() == recorded


def test_redis_down_drops_samples_silently(committed, own_redis, client):
    latency.record(0.01, rate=1.0)
    assert latency.p99_latency_ms(5) is not None
    own_redis.stop()
    assert latency.record(0.01, rate=1.0)  # counted in this process...
    assert latency.flush() is False  # ...and dropped by the flush that cannot reach Redis
    assert latency._pending.samples == 0  # nothing piles up while Redis is away
    assert latency.p99_latency_ms(5) is None
    assert (
        client.get("/api/v1/orgs/").status_code == 401
    )  # the request is served; its sample is dropped


def test_two_processes_feed_one_histogram(committed, client, settings):
    settings.LATENCY_SAMPLE_RATE = 1.0
    server = AppServer().start()
    try:
        for _ in range(7):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(server.url + "/api/v1/orgs/", timeout=10)
            assert refused.value.code == 401
        for _ in range(5):
            urllib.request.urlopen(server.url + "/health/live", timeout=10)  # not an API call
        # The server flushes its counts by itself (every LATENCY_FLUSH_SECONDS) while it runs.
        deadline = time.monotonic() + 15
        while _total() < 7 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _total() == 7  # the other process's API requests, and only those
    finally:
        server.stop()
    assert _total() == 7
    for _ in range(4):
        assert client.get("/api/v1/orgs/").status_code == 401
    assert _total() == 11  # this process's four on top
    assert latency.p99_latency_ms(5) is not None


def _channel(**fields) -> AlertChannel:
    with tenant_context(TenantContext(platform_admin=True)):
        return AlertChannel.objects.create(**fields)


def _set_rule(**fields) -> None:
    with tenant_context(TenantContext(platform_admin=True)):
        AlertRule.objects.filter(kind=RuleKind.P99_LATENCY, org=None).update(**fields)


def test_p99_rule_fires_above_the_threshold_and_resolves_below(committed, receiver, monkeypatch):
    # Only the p99 rule has data: the signal registered at startup, nothing else.
    assert alerts._SIGNALS["p99_latency_ms"] is redis_alerts.p99_latency
    monkeypatch.setattr(alerts, "_SIGNALS", {"p99_latency_ms": redis_alerts.p99_latency})
    _channel(name="ops", kind=ChannelKind.WEBHOOK, target=receiver.url + "/hook")
    with tenant_context(TenantContext(platform_admin=True)):
        alerts.ensure_builtin_rules()
    _set_rule(threshold=200, window_minutes=5)
    start = time.time()
    monkeypatch.setattr(latency, "_now", lambda: start)

    for _ in range(200):
        latency.record(0.020, rate=1.0)
    assert alerts.evaluate()["fired"] == 0  # p99 ~20 ms

    for _ in range(10):  # 5 % of requests take 1.5 s
        latency.record(1.5, rate=1.0)
    assert alerts.evaluate()["fired"] == 1
    (hook,) = receiver.to("/hook")
    assert hook["json"]["action"] == "trigger"
    assert hook["json"]["alert"]["kind"] == "p99_latency"
    slow_bucket = round(latency.upper_bound_ms(latency.bucket_of(1500)), 2)  # 1722.67
    assert (
        f"p99_latency_ms = {slow_bucket:g}ms (above 200ms; 210 samples"
        in hook["json"]["alert"]["summary"]
    )

    # Two minutes later, with fast requests only since: still inside a 5-minute window...
    monkeypatch.setattr(latency, "_now", lambda: start + 120)
    for _ in range(200):
        latency.record(0.020, rate=1.0)
    assert alerts.evaluate()["resolved"] == 0
    # ...out of a 1-minute one: the rule reads its own window.
    _set_rule(window_minutes=1)
    assert alerts.evaluate()["resolved"] == 1
    assert [h["json"]["action"] for h in receiver.to("/hook")] == ["trigger", "resolve"]


def test_studio_health_page_shows_the_p99(committed, client):
    for _ in range(100):
        latency.record(0.300, rate=1.0)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    body = client.get("/studio/health/").content.decode()
    expected = round(latency.upper_bound_ms(latency.bucket_of(300)), 2)
    assert f'data-field="latency.p99_ms">{expected}</span>' in body
    from studio.dashboard import live_frame

    frame = live_frame()["latency"]
    assert frame["p99_ms"] == expected and frame["samples"] >= 100
