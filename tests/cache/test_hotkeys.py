"""Hotkey detection: a skewed (Zipf) access pattern's true top-10 comes back in rate order."""

import random
from collections import Counter

import pytest
from django.core.cache import cache

from cache import hotkeys
from cache.signals import hotkey_detected


def zipf_stream(n_keys: int, n_accesses: int, s: float, rng: random.Random) -> list[str]:
    """Key of rank r appears ~ n / (r^s * H) times (Zipf's law), in a random order."""
    keys = [f"item:{i}" for i in range(n_keys)]
    rng.shuffle(keys)  # rank is unrelated to the key's name
    weights = [1 / (rank + 1) ** s for rank in range(n_keys)]
    total = sum(weights)
    stream = [
        k
        for k, w in zip(keys, weights, strict=True)
        for _ in range(max(1, round(n_accesses * w / total)))
    ]
    rng.shuffle(stream)
    return stream


def true_top(stream: list[str], n: int) -> list[str]:
    counts = Counter(stream).most_common()
    assert len({c for _, c in counts[: n + 1]}) == n + 1  # a strict order at the top
    return [key for key, _ in counts[:n]]


def test_exact_top_10_in_rate_order_within_one_window(clean_redis):
    stream = zipf_stream(500, 20_000, 1.1, random.Random())
    expected = true_top(stream, 10)
    for key in stream:
        assert hotkeys.record_access(key, rate=1.0)
    top = hotkeys.top_hotkeys(10, window=60)
    assert [row["key"] for row in top] == expected
    counts = Counter(stream)
    assert [row["estimated_count"] for row in top] == [counts[k] for k in expected]
    assert top[0]["rate"] == pytest.approx(counts[expected[0]] / 60, abs=0.01)


def test_sampled_top_keys_match_the_true_leaders(clean_redis):
    """At a 20% sample the estimates are unbiased: the true top-5 come first, in order."""
    stream = zipf_stream(500, 50_000, 1.6, random.Random())
    expected = true_top(stream, 5)
    recorded = sum(hotkeys.record_access(key, rate=0.2) for key in stream)
    assert 0.15 * len(stream) < recorded < 0.25 * len(stream)
    top = hotkeys.top_hotkeys(5, window=60)
    assert [row["key"] for row in top] == expected
    for row in top:
        assert row["estimated_count"] == pytest.approx(Counter(stream)[row["key"]], rel=0.35)


def test_reads_through_the_platform_cache_are_sampled(clean_redis, settings):
    settings.REDIS_HOTKEY_SAMPLE_RATE = 1.0
    for _ in range(30):
        cache.get("profile:42")
    cache.get("profile:7")
    top = hotkeys.top_hotkeys(2, window=10)
    assert [(row["key"], row["estimated_count"]) for row in top] == [
        ("profile:42", 30),
        ("profile:7", 1),
    ]


def test_sampling_off_records_nothing(clean_redis):
    assert not any(hotkeys.record_access("k", rate=0) for _ in range(100))
    assert hotkeys.top_hotkeys(10, 10) == []


def test_buckets_expire_on_their_own(clean_redis):
    hotkeys.record_access("k", rate=1.0)
    (bucket,) = clean_redis.keys("platform:hk:*")
    assert 0 < clean_redis.ttl(bucket) <= hotkeys.MAX_WINDOW + 5


def test_threshold_raises_one_alert_per_key_per_cooldown(clean_redis, settings, db):
    settings.REDIS_HOTKEY_THRESHOLD = 5.0  # accesses per second over a 10 s window
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    hotkey_detected.connect(receiver)
    try:
        for _ in range(100):
            hotkeys.record_access("hot", rate=1.0)
        for _ in range(10):
            hotkeys.record_access("cold", rate=1.0)
        assert [row["key"] for row in hotkeys.check_threshold(window=10)] == ["hot"]
        assert hotkeys.check_threshold(window=10) == []  # cooling down
    finally:
        hotkey_detected.disconnect(receiver)
    assert len(received) == 1
    assert received[0]["key"] == "hot" and received[0]["rate"] == 10.0
    assert received[0]["threshold"] == 5.0
