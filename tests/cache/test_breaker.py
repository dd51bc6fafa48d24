"""The breaker around Redis, and what each caller does while it is open."""

import time

from django.core.cache import cache

from cache import ratelimit
from cache.breaker import RedisUnavailable, breaker_status, redis_breaker, redis_call
from cache.client import get_redis


def test_failures_open_the_breaker_and_calls_then_fail_fast(dead_redis):
    for _ in range(3):
        try:
            redis_call(get_redis().ping)
        except RedisUnavailable:
            pass
    status = breaker_status()
    assert status["state"] == "open" and status["state_code"] == 2
    assert status["last_transition"]["to"] == "open"
    assert status["last_transition"]["at"] <= time.time()
    try:
        redis_call(get_redis().ping)
        raise AssertionError("the open breaker let a call through")
    except RedisUnavailable as exc:
        assert str(exc) == "circuit breaker open"


def test_half_open_trial_closes_the_breaker_when_redis_is_back(clean_redis):
    redis_breaker.open()
    assert breaker_status()["state"] == "open"
    assert not ratelimit.hit("trial", limit=5, window=60).shared  # counted locally
    original = redis_breaker.reset_timeout
    redis_breaker.reset_timeout = 0.05
    try:
        time.sleep(0.1)
        assert ratelimit.hit("trial", limit=5, window=60).shared  # the trial call succeeds
        assert breaker_status()["state"] == "closed"
    finally:
        redis_breaker.reset_timeout = original


def test_rate_limit_is_shared_through_redis(clean_redis):
    decisions = [ratelimit.hit("login:1.2.3.4", limit=3, window=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert all(d.shared for d in decisions)
    assert clean_redis.exists(*clean_redis.keys("rl:login:1.2.3.4:*")) == 1


def test_several_limits_are_counted_in_one_round_trip(clean_redis):
    limits = [ratelimit.Limit("a:ip", 2, 60), ratelimit.Limit("a:account", 1, 60)]
    first, second = ratelimit.hit_all(limits), ratelimit.hit_all(limits)
    assert [d.allowed for d in first] == [True, True]
    assert [d.allowed for d in second] == [True, False]
    assert [d.count for d in second] == [2, 2]
    assert all(0 < d.reset_in <= 60 for d in second)


def test_rate_limit_falls_back_to_a_bounded_local_window(dead_redis):
    decisions = [ratelimit.hit("login:5.6.7.8", limit=3, window=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert not any(d.shared for d in decisions)


def test_plain_cache_api_still_works_when_redis_is_up(clean_redis):
    cache.set("plain", {"a": 1})
    assert cache.get("plain") == {"a": 1}
