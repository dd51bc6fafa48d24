"""The circuit breaker in front of Redis.

Every Redis use goes through ``redis_call``. After ``REDIS_BREAKER_FAIL_MAX`` consecutive
failures the breaker opens: calls fail fast with ``RedisUnavailable`` for
``REDIS_BREAKER_RESET_SECONDS``, then one trial call (half-open) decides whether it closes.
Each caller decides what "unavailable" means for it (sessions fall back to PostgreSQL, the
cache recomputes); that choice is documented where the caller is.
"""

import time
from collections.abc import Callable
from typing import TypeVar

import pybreaker
import redis
import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)
T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis could not be used: the breaker is open or the call failed."""


class _TransitionRecorder(pybreaker.CircuitBreakerListener):
    def __init__(self):
        self.last_transition: dict | None = None

    def state_change(self, cb, old_state, new_state) -> None:
        self.last_transition = {
            "from": old_state.name if old_state else None,
            "to": new_state.name,
            "at": time.time(),
        }
        logger.warning(
            "redis_breaker_state_change", old=self.last_transition["from"], new=new_state.name
        )


def _not_a_redis_failure(exc: BaseException) -> bool:
    # Only connection trouble opens the breaker; a bad command is the caller's bug.
    return not isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError)


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
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from exc


def breaker_status() -> dict:
    return {
        "state": redis_breaker.current_state,
        "fail_counter": redis_breaker.fail_counter,
        "fail_max": redis_breaker.fail_max,
        "reset_timeout": redis_breaker.reset_timeout,
        "last_transition": transitions.last_transition,
    }
