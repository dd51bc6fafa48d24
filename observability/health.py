"""Dependency checks for the health endpoints, and the registry other apps plug into.

Readiness checks each return status and latency. ``celery_worker`` is the one that says whether
background work runs: every Celery worker's consumer writes a heartbeat (``worker_heartbeat``,
a sorted set in Redis) every ``WORKER_HEARTBEAT_SECONDS`` while it is connected to the broker
and consuming; none younger than ``WORKER_HEARTBEAT_MAX_AGE`` means no worker is consuming
(dead, hung, or stuck reconnecting), whatever the broker's own ping says.

``register_check`` adds a check (the data layer's stores, say); ``register_detail`` adds a
section to detailed health (pool stats, Redis metrics) that never decides readiness.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlparse

import redis
import structlog
from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from cache.breaker import RedisUnavailable, breaker_status, redis_call
from cache.client import get_redis
from datastore.selectors import pool_stats

logger = structlog.get_logger(__name__)
WORKERS_KEY = "platform:celery:workers"


@dataclass
class Check:
    name: str
    ok: bool
    latency_ms: float
    detail: str = ""
    configured: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


class NotConfigured(Exception):
    """The dependency is optional and not configured here: reported, never a failure."""


def timed(name: str, probe: Callable[[], str | None]) -> Check:
    started = time.perf_counter()
    configured = True
    try:
        detail = probe() or ""
        ok = True
    except NotConfigured as exc:
        ok, detail, configured = True, str(exc) or "not configured", False
    except Exception as exc:  # a health check reports every failure, whatever its type
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    latency = round((time.perf_counter() - started) * 1000, 2)
    return Check(name, ok, latency, detail, configured)


def _postgres() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


_migrated = False


def _migrations() -> str | None:
    global _migrated
    if _migrated:  # once applied, a running process cannot become unmigrated
        return None
    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) not applied")
    _migrated = True
    return None


def _redis() -> str:
    status = breaker_status()
    redis_call(get_redis().ping)
    return f"breaker {status['state']}"


def _mongodb() -> str:
    url = getattr(settings, "MONGODB_URL", "")
    if not url:
        raise NotConfigured("not configured (MONGODB_URL unset)")
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        client.admin.command("ping")
    finally:
        client.close()
    return "ping ok"


def broker_client() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    if urlparse(url).scheme not in ("redis", "rediss"):
        return None
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def _celery_broker() -> str:
    client = broker_client()
    if client is None:
        from platform_site.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return "connected"
    try:
        client.ping()
    finally:
        client.close()
    return "ping ok"


def worker_heartbeat(hostname: str, *, now: float | None = None) -> bool:
    """Record that worker ``hostname`` is consuming (its consumer's timer calls this)."""
    now = time.time() if now is None else now
    pipe = get_redis().pipeline(transaction=False)
    pipe.zadd(WORKERS_KEY, {hostname: now})
    pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 3600)  # workers gone for an hour
    pipe.expire(WORKERS_KEY, 3600)
    try:
        redis_call(pipe.execute)
    except RedisUnavailable as exc:
        logger.warning("worker_heartbeat_failed", hostname=hostname, error=str(exc))
        return False
    return True


def _celery_worker() -> str:
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE
    if max_age <= 0:
        raise NotConfigured("not checked (WORKER_HEARTBEAT_MAX_AGE=0)")
    beats = redis_call(get_redis().zrange, WORKERS_KEY, 0, -1, withscores=True)
    now = time.time()
    consuming = [name for name, at in beats if now - at <= max_age]
    if not consuming:
        if not beats:
            raise RuntimeError("no worker has sent a heartbeat")
        age = now - max(at for _, at in beats)
        raise RuntimeError(f"no worker consuming: last heartbeat {age:.0f}s ago")
    age = now - max(at for _, at in beats)
    return f"{len(consuming)} worker(s) consuming, last heartbeat {age:.0f}s ago"


# name -> probe; the built-ins first, other apps append with register_check.
_CHECKS: dict[str, Callable[[], str | None]] = {
    "postgres": _postgres,
    "migrations": _migrations,
    "redis": _redis,
    "mongodb": _mongodb,
    "celery_broker": _celery_broker,
    "celery_worker": _celery_worker,
}
_DETAILS: dict[str, Callable[[], dict]] = {}


def register_check(name: str, probe: Callable[[], str | None]) -> None:
    """Add a readiness check: ``probe`` raises on failure, ``NotConfigured`` when optional."""
    _CHECKS[name] = probe


def register_detail(name: str, provider: Callable[[], dict]) -> None:
    """Add a section to detailed health (``/health/ready`` for operators, ``/health/redis``)."""
    _DETAILS[name] = provider


def readiness_checks() -> list[Check]:
    return [timed(name, probe) for name, probe in list(_CHECKS.items())]


# --- details: pools and Redis -------------------------------------------------------------------
def postgres_pool_stats(alias: str = "default") -> dict | None:
    return pool_stats(alias) or None


def redis_pool_stats() -> dict:
    pool = get_redis().connection_pool
    in_use = len(getattr(pool, "_in_use_connections", ()))
    return {
        "created": getattr(pool, "_created_connections", in_use),
        "in_use": in_use,
        "available": len(getattr(pool, "_available_connections", ())),
        "max": getattr(pool, "max_connections", None),
    }


def redis_detail() -> dict:
    """The seed's /health/redis: role, memory, breaker and pool."""
    detail: dict = {"breaker": breaker_status(), "pool": redis_pool_stats()}
    try:
        client = get_redis()
        replication = redis_call(client.info, "replication")
        memory = redis_call(client.info, "memory")
        detail.update(
            ok=True,
            role=replication.get("role"),
            connected_replicas=replication.get("connected_slaves", 0),
            memory={
                "used_bytes": memory.get("used_memory"),
                "peak_bytes": memory.get("used_memory_peak"),
                "max_bytes": memory.get("maxmemory"),
                "policy": memory.get("maxmemory_policy"),
            },
        )
    except Exception as exc:  # reported, not raised: this is a status page
        detail.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    for name, provider in list(_DETAILS.items()):
        if name.startswith("redis"):
            detail[name] = _safe(provider)
    return detail


def queue_depth() -> dict[str, int] | None:
    client = broker_client()
    if client is None:
        return None
    try:
        from platform_site.celery import app

        queue = app.conf.task_default_queue or "celery"
        return {queue: int(client.llen(queue))}
    finally:
        client.close()


def details() -> dict:
    out = {
        "pools": {"postgres": postgres_pool_stats(), "redis": redis_pool_stats()},
        "breaker": breaker_status(),
    }
    try:
        out["queues"] = queue_depth()
    except Exception as exc:
        out["queues"] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    for name, provider in list(_DETAILS.items()):
        out[name] = _safe(provider)
    return out


def _safe(provider: Callable[[], dict]) -> dict:
    try:
        return provider()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
