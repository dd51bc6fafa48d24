"""Fixed-window rate limits in Redis, per client IP and per account, shared by every process.

Limits come from ``AUTHN_RATE_LIMITS`` as ``"<count>/<seconds>"``. The "account" key is the
email for register/login/reset, the ``uid`` for reset confirmation, and the presented token
for refresh (the account is not known before the token is looked up). Keys carry a hash of the
identifier (no email in Redis). When Redis is unavailable the limiter lets requests through
and logs it: the passwords are still Argon2id-hashed, and locking every user out while Redis
is down would turn an outage into a denial of service.
"""

import hashlib
import math
import time

import structlog
from django.conf import settings

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

logger = structlog.get_logger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


def _parse(rule: str) -> tuple[int, int]:
    count, _, seconds = rule.partition("/")
    return int(count), int(seconds)


def _identifier(value: str) -> str:
    return hashlib.sha256(value.lower().encode()).hexdigest()[:32]


def check(action: str, *, ip: str | None, account: str | None = None) -> None:
    """Count one attempt; raise ``RateLimited`` if any of its limits is now exceeded."""
    rules = settings.AUTHN_RATE_LIMITS[action]
    now = time.time()
    counted = []
    for kind, ident in (("ip", ip), ("account", account)):
        if not ident or kind not in rules:
            continue
        limit, window = _parse(rules[kind])
        bucket = int(now // window)
        counted.append((f"authn:rl:{action}:{kind}:{_identifier(ident)}:{bucket}", limit, window))
    if not counted:
        return

    def incr():
        pipe = get_redis().pipeline(transaction=False)
        for key, _, window in counted:
            pipe.incr(key)
            pipe.expire(key, window + 1)
        return pipe.execute()[::2]

    try:
        counts = redis_call(incr)
    except RedisUnavailable as exc:
        logger.warning("rate_limit_unavailable", action=action, error=str(exc))
        return
    retry_after = 0
    for (_, limit, window), count in zip(counted, counts, strict=True):
        if count > limit:
            retry_after = max(retry_after, math.ceil(window - now % window))
    if retry_after:
        logger.info("rate_limited", action=action, retry_after=retry_after)
        raise RateLimited(retry_after)
