"""What the Studio's live pages show: one frame of Redis metrics and dependency health."""

import time

from cache.breaker import breaker_status, redis_call
from cache.client import get_redis
from observability.health import readiness_checks


def redis_frame() -> dict:
    frame: dict = {"breaker": breaker_status(), "available": False}
    try:
        client = get_redis()
        started = time.perf_counter()
        info = redis_call(client.info)
        frame["ping_ms"] = round((time.perf_counter() - started) * 1000, 2)
    except Exception as exc:  # the dashboard reports Redis trouble, whatever its kind
        frame["error"] = f"{type(exc).__name__}: {exc}"[:200]
        return frame
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    pool = client.connection_pool
    frame.update(
        available=True,
        role=info.get("role"),
        connected_slaves=info.get("connected_slaves", 0),
        used_memory=info.get("used_memory"),
        used_memory_human=info.get("used_memory_human"),
        used_memory_peak=info.get("used_memory_peak"),
        used_memory_peak_human=info.get("used_memory_peak_human"),
        fragmentation=info.get("mem_fragmentation_ratio"),
        connected_clients=info.get("connected_clients"),
        keyspace_hits=hits,
        keyspace_misses=misses,
        hit_rate=round(hits / (hits + misses), 4) if hits + misses else None,
        total_commands=info.get("total_commands_processed"),
        pool={
            "max": getattr(pool, "max_connections", None),
            "in_use": len(getattr(pool, "_in_use_connections", ())),
            "available": len(getattr(pool, "_available_connections", ())),
        },
    )
    return frame


def health_frame() -> dict:
    return {check.name: check.as_dict() for check in readiness_checks()}


def live_frame() -> dict:
    return {"at": time.time(), "redis": redis_frame(), "health": health_frame()}
