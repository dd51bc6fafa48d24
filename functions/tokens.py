"""Per-invocation tokens: how a running function calls the platform's client API as its caller.

``function_invoke`` mints one for each invocation and hands it to the function as its
request's ``Authorization: Bearer fninv_...`` (the caller's own credentials never reach tenant
code). The token names the project and the caller (an end user and its session, the anon role,
or the service role) and lives in Redis only: with a time to live that covers the invocation's
wait behind the project's others, its worker's start and its timeout, and deleted as soon as
the invocation is over. The client identity
(``endusers.identity.identify``) takes it instead of a key: the platform then answers the
function exactly as it would answer the caller (access rules, row-level security), and refuses
the token once the invocation ended.

Redis unavailable: the invocation runs without a token (its ``platform.fetch`` is refused
with 401), and nothing else changes.
"""

import hashlib
import json
import secrets

import structlog
from django.conf import settings

from access.constants import SERVICE_ROLE, ClientRole
from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis
from endusers.identity import INVOCATION_TOKEN_PREFIX as PREFIX

logger = structlog.get_logger(__name__)

MAX_LENGTH = 64
# Beyond the function's own timeout: its worker's cold start and the answer's way back.
START_SLACK_SECONDS = 15


def _key(token: str) -> str:
    return "functions:invocation-token:" + hashlib.sha256(token.encode()).hexdigest()


def role_of(caller) -> str:
    """The client role an invocation's platform calls act as."""
    if caller.kind == "end_user":
        return ClientRole.AUTHENTICATED
    if caller.kind == "anon":
        return ClientRole.ANON
    # The platform itself (triggers, schedules), a secret key, a developer's test run.
    return SERVICE_ROLE


def mint(*, project, caller, timeout_seconds: int) -> str | None:
    token = PREFIX + secrets.token_urlsafe(32)
    claims = {
        "project_id": str(project.pk),
        "org_id": str(project.org_id),
        "role": role_of(caller),
        "key_id": caller.key_id,
        "end_user_id": caller.end_user_id,
        "session_id": caller.session_id,
        "app_roles": list(caller.app_roles),
    }
    try:
        redis_call(
            get_redis().set,
            _key(token),
            json.dumps(claims),
            # Queued behind at most the project's other invocations, each within its timeout.
            ex=int(timeout_seconds) * settings.FUNCTIONS_PROJECT_CONCURRENCY + START_SLACK_SECONDS,
        )
    except RedisUnavailable:
        logger.warning("function_token_unavailable", project_id=str(project.pk))
        return None
    return token


def revoke(token: str | None) -> None:
    if not token:
        return
    try:
        redis_call(get_redis().delete, _key(token))
    except RedisUnavailable:
        pass  # it expires with its time to live


def claims(token: str) -> dict | None:
    """The live token's claims, or None (unknown, expired, revoked, Redis unavailable)."""
    if len(token) > MAX_LENGTH:
        return None
    try:
        raw = redis_call(get_redis().get, _key(token))
    except RedisUnavailable:
        return None
    return json.loads(raw) if raw else None
