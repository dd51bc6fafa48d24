"""Redis metrics: the staff-only JSON and Prometheus endpoints, the series, redis_status."""

import json
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from cache import metrics
from cache.breaker import redis_breaker
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/admin/redis/metrics"


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


def test_staff_sees_every_figure(client_for, staff, clean_redis):
    cache.set("m:present", 1)
    cache.get("m:present")
    cache.get("m:absent")
    body = client_for(staff).get(URL).json()
    assert body["available"] is True
    # The request's own session lookup is a cache read too (a hit: session_start cached it).
    assert (body["client"]["hits"], body["client"]["misses"]) == (2, 1)
    assert body["client"]["hit_rate"] == 0.6667
    latency = body["client"]["latency_ms"]
    assert latency["samples"] == 4 and 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    info = body["server"]["info"]
    for field in ("used_memory", "used_memory_peak", "mem_fragmentation_ratio"):
        assert field in info
    assert info["connected_clients"] >= 1
    assert any(db.startswith("db") for db in body["server"]["keyspace"])
    assert body["server"]["replication"] == {"role": "master", "replicas": []}
    assert body["pool"]["max"] == 50 and body["pool"]["in_use"] >= 0
    assert body["breaker"]["state"] == "closed"
    assert len(body["series"]) == 1 and body["series"][0]["up"] is True


def test_only_staff(client_for, user, api_client):
    assert client_for(user).get(URL).status_code == 403
    assert api_client.get(URL).status_code == 401
    assert client_for(user).get(URL + "/prometheus").status_code == 403


def test_prometheus_text(client_for, staff, clean_redis):
    cache.get("m:absent")
    response = client_for(staff).get(URL + "/prometheus")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = [ln for ln in response.content.decode().splitlines() if not ln.startswith("#")]
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$')
    assert lines and all(sample.match(line) for line in lines), lines
    text = "\n".join(lines)
    assert "platform_redis_up 1" in text
    assert "platform_redis_cache_misses_total 1" in text
    assert "platform_redis_cache_hits_total 1" in text  # the request's session lookup
    assert 'platform_redis_command_seconds_bucket{le="+Inf"} 2' in text
    assert "platform_redis_breaker_state 0" in text


def test_series_keeps_one_sample_per_slot_and_an_hour_at_most(clean_redis):
    assert metrics.sample() is not None
    assert metrics.sample() is None  # same 5-second slot: another process already sampled
    for _ in range(3):
        metrics.sample(force=True)
    series = metrics.series()
    assert len(series) == 4
    assert [p["t"] for p in series] == sorted(p["t"] for p in series)
    clean_redis.rpush(metrics.SERIES_KEY, *["{}"] * metrics.SERIES_LENGTH)
    metrics.sample(force=True)
    assert clean_redis.llen(metrics.SERIES_KEY) == metrics.SERIES_LENGTH == 720


def test_endpoint_answers_while_redis_is_unavailable(client_for, staff, dead_redis):
    response = client_for(staff).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["available"] is False and body["series"] == []
    prom = client_for(staff).get(URL + "/prometheus")
    assert prom.status_code == 200 and "platform_redis_up 0" in prom.content.decode()


def test_redis_status_command(clean_redis, capsys):
    call_command("redis_status")
    out = capsys.readouterr().out
    assert re.search(r"^role\s+master", out, re.M)
    assert re.search(r"^breaker\s+closed", out, re.M)
    call_command("redis_status", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["server"]["replication"]["role"] == "master" and "hotkeys" in data


def test_redis_status_fails_when_redis_is_down(dead_redis):
    redis_breaker.open()
    with pytest.raises(CommandError, match="Redis unavailable"):
        call_command("redis_status")
