"""The Redis layer feeds alert rules: a detected hot key fires the "Hot key" alert, and the
cache-hit-rate rule reads Redis's own keyspace ratio."""

import pytest

from cache import hotkeys
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


def test_cache_hit_rate_source_reads_the_server_ratio():
    client = get_redis()
    client.set("ratio:probe", "1")
    client.get("ratio:probe")
    client.get("ratio:missing")
    ratio = redis_alerts.server_hit_rate()
    info = client.info("stats")
    expected = info["keyspace_hits"] / (info["keyspace_hits"] + info["keyspace_misses"])
    assert ratio == pytest.approx(expected, abs=0.01)
