"""The circuit breaker in front of Redis.

Every Redis use goes through ``redis_call``. After ``REDIS_BREAKER_FAIL_MAX`` consecutive
failures the breaker opens: calls fail fast with ``RedisUnavailable`` for
``REDIS_BREAKER_RESET_SECONDS``, then one trial call (half-open) decides whether it closes.
What each caller does while Redis is unavailable (breaker open, or the call failed):

=================  ==========================================================================
caller             fallback
=================  ==========================================================================
session cache      read the session from PostgreSQL (the source of truth); skip the write-back
                   (``cache/sessions.py``)
entity copies      believe no per-process copy: read PostgreSQL; set a new epoch once Redis
                   answers again, before any copy counts (``cache/entities.py``)
hotkey sampling    drop the sample (``cache.hotkeys.record_access`` never raises)
rate limits        ``cache.ratelimit``: a per-process fixed window with the same limit; the
                   limits still hold (at most ``limit`` x (number of processes) per window),
                   and nobody is refused merely because Redis is down
metrics            report ``{"available": false}`` with the breaker state, never a 5xx
realtime           channels-redis raises in the consumer; the socket closes with 1011 and the
                   client reconnects (Supabase clients do so by default)
health/ready       reports the failing check
=================  ==========================================================================

The breaker is per process; its state, failure count and last transition are in
``breaker_status()`` (health, metrics, ``manage.py redis_status``).
"""

import time
from collections.abc import Callable
from typing import TypeVar

import pybreaker
import redis
import structlog
from django.conf import settings
from django_redis.exceptions import ConnectionInterrupted

logger = structlog.get_logger(__name__)
T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis could not be used: the breaker is open or the call failed."""


class _TransitionRecorder(pybreaker.CircuitBreakerListener):
    def __init__(self):
        self.last_transition: dict | None = None

    def state_change(self, cb, old_state, new_state) -> None:
        if old_state is not None and old_state.name == new_state.name:
            return
        self.last_transition = {
            "from": old_state.name if old_state else None,
            "to": new_state.name,
            "at": time.time(),
        }
        logger.warning(
            "redis_breaker_state_change", old=self.last_transition["from"], new=new_state.name
        )


# Connection trouble opens the breaker; so does a demoted primary answering READONLY during a
# failover. A bad command is the caller's bug and does not count.
REDIS_FAILURES = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    ConnectionInterrupted,
    OSError,
)


def _not_a_redis_failure(exc: BaseException) -> bool:
    return not isinstance(exc, REDIS_FAILURES)


transitions = _TransitionRecorder()
redis_breaker = pybreaker.CircuitBreaker(
    fail_max=getattr(settings, "REDIS_BREAKER_FAIL_MAX", 3),
    reset_timeout=getattr(settings, "REDIS_BREAKER_RESET_SECONDS", 5),
    exclude=[_not_a_redis_failure],
    listeners=[transitions],
    name="redis",
)


def redis_call(func: Callable[..., T], *args, **kwargs) -> T:
    """Run ``func(*args, **kwargs)`` behind the breaker; Redis trouble becomes RedisUnavailable."""
    try:
        return redis_breaker.call(func, *args, **kwargs)
    except pybreaker.CircuitBreakerError as exc:
        raise RedisUnavailable("circuit breaker open") from exc
    except REDIS_FAILURES as exc:
        raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from exc


STATE_CODES = {"closed": 0, "half-open": 1, "open": 2}


def breaker_status() -> dict:
    return {
        "state": redis_breaker.current_state,
        "state_code": STATE_CODES.get(redis_breaker.current_state, -1),
        "fail_counter": redis_breaker.fail_counter,
        "fail_max": redis_breaker.fail_max,
        "reset_timeout": redis_breaker.reset_timeout,
        "last_transition": transitions.last_transition,
    }
