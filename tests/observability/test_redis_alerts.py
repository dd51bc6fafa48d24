"""The Redis layer feeds alert rules: a detected hot key fires the "Hot key" alert, and the
cache-hit-rate rule reads Redis's own keyspace ratio over its window, firing only on enough
lookups (a fresh, idle platform raises nothing)."""

import pytest

from cache import hotkeys, metrics
from cache.client import get_redis
from observability import alerts, redis_alerts
from observability.models import Alert, AlertRule
from tenants.context import TenantContext, set_tenant_context

pytestmark = pytest.mark.django_db


def test_a_hot_key_fires_the_hotkey_alert_once(settings):
    settings.REDIS_HOTKEY_THRESHOLD = 5
    settings.REDIS_HOTKEY_ALERT_COOLDOWN = 60
    client = get_redis()
    for stale in client.scan_iter(f"{hotkeys.PREFIX}*"):
        client.delete(stale)
    set_tenant_context(TenantContext(platform_admin=True))
    alerts.ensure_builtin_rules()
    AlertRule.objects.filter(kind="hotkey").update(threshold=5)  # the rule decides, per org
    for _ in range(200):
        hotkeys.record_access("orders:hot", rate=1.0)
    assert hotkeys.check_threshold(window=10)
    fired = Alert.objects.filter(rule__kind="hotkey", state="firing")
    assert fired.count() == 1
    assert "orders:hot" in fired.get().summary
    hotkeys.check_threshold(window=10)  # within the cooldown: no second signal, no new alert
    assert Alert.objects.filter(rule__kind="hotkey").count() == 1


def _hit_rate_alerts():
    set_tenant_context(TenantContext(platform_admin=True))  # evaluate() leaves its own context
    return Alert.objects.filter(rule__kind="cache_hit_rate").exclude(state="resolved")


def test_cache_hit_rate_rule_reads_the_server_over_its_window(settings):
    settings.ALERT_MIN_SAMPLES = 100
    client = get_redis()
    client.delete(metrics.SERIES_KEY)
    set_tenant_context(TenantContext(platform_admin=True))

    # A fresh start: no sample in the window yet, then one, and a few misses (start-up reads).
    assert redis_alerts.server_hit_rate(window_minutes=15) is None
    alerts.evaluate()
    assert metrics.sample(force=True) is not None
    for i in range(10):
        client.get(f"ratio:missing:{i}")
    reading = redis_alerts.server_hit_rate(window_minutes=15)
    assert 10 <= reading.samples < 100 and reading.value < 0.5
    alerts.evaluate()
    assert not _hit_rate_alerts().exists()

    # Real traffic that misses: the rule fires, with the server's figures.
    for i in range(300):
        client.get(f"ratio:missing:{i}")
    reading = redis_alerts.server_hit_rate(window_minutes=15)
    assert reading.samples >= 310 and reading.value < 0.1
    assert alerts.evaluate()["fired"] == 1
    assert "samples in 15 min" in _hit_rate_alerts().get().summary

    # Then hits: the window's ratio rises above the threshold and the alert resolves.
    client.set("ratio:probe", "1")
    for _ in range(1000):
        client.get("ratio:probe")
    assert redis_alerts.server_hit_rate(window_minutes=15).value > 0.6
    assert alerts.evaluate()["resolved"] == 1


def test_interval_rates_start_again_after_a_redis_restart():
    points = [
        {"t": 1.0, "hits": 900, "misses": 100},
        {"t": 6.0, "hits": 5, "misses": 5},  # counters reset: Redis restarted in between
        {"t": 11.0, "hits": 15, "misses": 5},
    ]
    rates = metrics.interval_hit_rates(points)
    assert rates == [
        {"at": 6.0, "hit_rate": None, "lookups": 0},
        {"at": 11.0, "hit_rate": 1.0, "lookups": 10},
    ]
