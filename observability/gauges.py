"""The platform's own scrape-time gauges: breaker, pools, queue depth, replica lag."""

from observability import health
from observability.metrics import register_gauge

BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


def _breaker() -> float:
    from cache.breaker import breaker_status

    return BREAKER_STATES.get(breaker_status()["state"], -1)


def _pg_pool():
    stats = health.postgres_pool_stats()
    if stats is None:
        return None
    return {
        ("default", "size"): stats["size"],
        ("default", "available"): stats["available"],
        ("default", "in_use"): stats["size"] - stats["available"],
        ("default", "max"): stats["max"],
        ("default", "waiting"): stats["waiting"],
    }


def _redis_pool():
    stats = health.redis_pool_stats()
    return {
        ("default", "created"): stats["created"],
        ("default", "in_use"): stats["in_use"],
        ("default", "available"): stats["available"],
        ("default", "max"): stats["max"] or 0,
    }


def _queues():
    depth = health.queue_depth()
    return None if depth is None else {(name,): n for name, n in depth.items()}


def _keyspace_hit_ratio():
    from cache.breaker import redis_call
    from cache.client import get_redis

    stats = redis_call(get_redis().info, "stats")
    hits, misses = stats.get("keyspace_hits", 0), stats.get("keyspace_misses", 0)
    return None if hits + misses == 0 else hits / (hits + misses)


def _replica_lag():
    from tenants import replicas

    if not replicas.configured():
        return None
    return replicas.replica_status().lag_seconds


def register_builtin() -> None:
    register_gauge(
        "platform_redis_breaker_state", "Redis breaker: 0 closed, 1 half-open, 2 open.", _breaker
    )
    register_gauge(
        "platform_db_pool_connections",
        "PostgreSQL pool connections by state.",
        _pg_pool,
        ("alias", "state"),
    )
    register_gauge(
        "platform_redis_pool_connections",
        "Redis pool connections by state.",
        _redis_pool,
        ("alias", "state"),
    )
    register_gauge(
        "platform_redis_keyspace_hit_ratio",
        "Redis server-wide hits / (hits + misses) since its start.",
        _keyspace_hit_ratio,
    )
    register_gauge("platform_queue_depth", "Celery messages waiting.", _queues, ("queue",))
    register_gauge(
        "platform_db_replica_lag_seconds",
        "Read replica's replay lag as it measures it (the replication_lag alert rule's value).",
        _replica_lag,
    )
