"""The breaker around Redis, and what each caller does while it is open."""

import time

from django.core.cache import cache

from cache import ratelimit, store
from cache.breaker import breaker_status, redis_breaker


def test_cache_reads_fall_back_to_compute_and_the_breaker_opens(dead_redis):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    results = [store.get_or_compute("k", compute) for _ in range(5)]
    assert results == [1, 2, 3, 4, 5]  # computed every time, never stored
    status = breaker_status()
    assert status["state"] == "open" and status["state_code"] == 2
    assert status["last_transition"]["to"] == "open"
    assert status["last_transition"]["at"] <= time.time()


def test_half_open_trial_closes_the_breaker_when_redis_is_back(clean_redis):
    redis_breaker.open()
    assert breaker_status()["state"] == "open"
    assert store.get_or_compute("x", lambda: "computed") == "computed"
    original = redis_breaker.reset_timeout
    redis_breaker.reset_timeout = 0.05
    try:
        time.sleep(0.1)
        assert store.get_or_compute("x", lambda: "first") == "first"  # trial call succeeds
        assert breaker_status()["state"] == "closed"
        assert store.get_or_compute("x", lambda: "second") == "first"  # and was stored
    finally:
        redis_breaker.reset_timeout = original


def test_cache_set_reports_failure_instead_of_raising(dead_redis):
    assert store.cache_set("k", 1) is False


def test_rate_limit_is_shared_through_redis(clean_redis):
    decisions = [ratelimit.hit("login:1.2.3.4", limit=3, window=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert all(d.shared for d in decisions)
    assert clean_redis.exists(*clean_redis.keys("rl:login:1.2.3.4:*")) == 1


def test_rate_limit_falls_back_to_a_bounded_local_window(dead_redis):
    decisions = [ratelimit.hit("login:5.6.7.8", limit=3, window=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert not any(d.shared for d in decisions)


def test_plain_cache_api_still_works_when_redis_is_up(clean_redis):
    cache.set("plain", {"a": 1})
    assert cache.get("plain") == {"a": 1}
    assert store.get_or_compute("plain", lambda: None) == {"a": 1}
