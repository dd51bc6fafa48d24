"""What the Studio's live pages show: one frame of Redis metrics, health and recent alerts.

Frames are built for platform staff only (the consumer checks), under the platform RLS
context, since Redis and platform alerts belong to no single org.
"""

import time

from cache import metrics
from observability import latency
from observability.health import readiness_checks
from observability.selectors import alerts_recent_platform


def redis_frame() -> dict:
    data = metrics.collect()
    metrics.sample(data=data)  # one point per 5 s slot for the hour-long series; checks hotkeys
    info = data.get("server", {}).get("info", {})
    hits, misses = info.get("keyspace_hits"), info.get("keyspace_misses")
    pool = data.get("pool", {})
    return {
        "available": data["available"],
        "error": data.get("error"),
        "breaker": data["breaker"],
        "role": info.get("role"),
        "connected_slaves": info.get("connected_slaves"),
        "replication": data.get("server", {}).get("replication"),
        "used_memory_human": _human(info.get("used_memory")),
        "used_memory_peak_human": _human(info.get("used_memory_peak")),
        "fragmentation": info.get("mem_fragmentation_ratio"),
        "connected_clients": info.get("connected_clients"),
        "keyspace_hits": hits,
        "keyspace_misses": misses,
        "hit_rate": round(hits / (hits + misses), 4)
        if hits is not None and hits + misses
        else None,
        "platform_hit_rate": data["client"]["hit_rate"],
        "latency": data["client"]["latency_ms"],
        "pool": {
            "in_use": pool.get("in_use"),
            "available": pool.get("idle"),
            "max": pool.get("max"),
        },
        "hotkeys": data.get("hotkeys", []),
        # Server hit rate per 5 s sample over the last hour: every process's reads.
        "history": metrics.interval_hit_rates(metrics.series()),
    }


def _human(size) -> str | None:
    if size is None:
        return None
    for unit in ("B", "K", "M", "G"):
        if size < 1024:
            return f"{size:.2f}{unit}"
        size /= 1024
    return f"{size:.2f}T"


def health_frame() -> dict:
    return {check.name: check.as_dict() for check in readiness_checks()}


def replica_frame() -> dict:
    """The read replica's lag and state (``not_configured`` without one)."""
    from tenants.replicas import replica_status

    return replica_status().as_dict()


def latency_frame() -> dict:
    """The platform's API p99 over the last 5 minutes, every app process together."""
    return latency.summary(window_minutes=5)


def alerts_frame() -> list[dict]:
    return [
        {
            "state": alert.state,
            "severity": alert.severity,
            "title": alert.summary,
            "runbook_url": alert.rule.runbook_url,
            "started_at": alert.started_at.isoformat(),
        }
        for alert in alerts_recent_platform(limit=10)
    ]


def live_frame() -> dict:
    frame = {
        "redis": redis_frame(),
        "health": health_frame(),
        "replica": replica_frame(),
        "latency": latency_frame(),
        "alerts": alerts_frame(),
    }
    # Stamped once built: the Redis sample just taken is never later than the frame, so the
    # chart's hour (which ends at the frame) holds its newest point.
    return {"at": time.time(), **frame}
