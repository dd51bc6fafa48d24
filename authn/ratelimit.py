"""The auth endpoints' abuse limits: per client IP and per account, on ``cache.ratelimit``.

Limits come from ``AUTHN_RATE_LIMITS`` as ``"<count>/<seconds>"``. The "account" key is the
email (or Studio username) for register/login/reset, the ``uid`` for reset confirmation, and
the presented token for refresh (the account is not known before the token is looked up).
Keys carry a hash of the identifier (no email in Redis). Both limits are counted in one round
trip. While Redis is unavailable ``cache.ratelimit`` counts in this process with the same
limits, so a password-guessing client is still refused: at most the limit per process.
"""

import hashlib
import math

import structlog
from django.conf import settings

from cache import ratelimit

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


def check(action: str, *, ip: str | None, account: str | None = None, project=None) -> None:
    """Count one attempt; raise ``RateLimited`` if any of its limits is now exceeded.

    With ``project``, an end users' auth endpoint of that project (``CLIENT_AUTH_RATE_LIMITS``):
    its counts are the project's own, so one app's traffic never throttles another's."""
    if project is None:
        rules, scope = settings.AUTHN_RATE_LIMITS[action], "authn"
    else:
        rules, scope = settings.CLIENT_AUTH_RATE_LIMITS[action], f"client:{project.id}"
    limits = []
    for kind, ident in (("ip", ip), ("account", account)):
        if not ident or kind not in rules:
            continue
        count, window = _parse(rules[kind])
        limits.append(
            ratelimit.Limit(f"{scope}:{action}:{kind}:{_identifier(ident)}", count, window)
        )
    decisions = ratelimit.hit_all(limits)
    if decisions and not decisions[0].shared:
        logger.warning("rate_limit_counted_locally", action=action)
    refused = [d for d in decisions if not d.allowed]
    if refused:
        retry_after = max(1, *(math.ceil(d.reset_in) for d in refused))
        logger.info("rate_limited", action=action, retry_after=retry_after)
        raise RateLimited(retry_after)
