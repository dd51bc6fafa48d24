"""Redis metrics: client-side latency and hit/miss counts, server INFO, pool, replication, breaker.

Client-side figures (latency histogram, hits, misses) are this process's, kept in memory:
cumulative Prometheus buckets plus the last 4096 latencies for exact p50/p95/p99. Server
figures come from INFO at collection time.

The rolling series: one compact sample every 5 s, kept in a Redis list (LPUSH + LTRIM to 720
entries = 1 hour). Redis rather than process memory, because every process and the Studio
chart must see one series that outlives process restarts; a SET NX EX 5 marker makes sure only
one process samples per 5-second slot. While Redis is unavailable the series simply has a gap.
Each sample carries the server's cumulative ``keyspace_hits`` / ``keyspace_misses``, so the hit
rate of any stretch of the last hour (``interval_hit_rates``, ``server_hit_rate_over``) is the
difference of two samples: every process's reads, not one process's.
"""

import bisect
import json
import threading
import time
from collections import deque

from cache.breaker import RedisUnavailable, breaker_status, redis_call
from cache.client import get_redis

SERIES_KEY = "platform:metrics:redis:series"
SAMPLE_LOCK_KEY = "platform:metrics:redis:sample-lock"
SAMPLE_EVERY = 5
SERIES_LENGTH = 3600 // SAMPLE_EVERY

# Upper bounds in seconds; the last bucket is +Inf.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

_lock = threading.Lock()
_bucket_counts = [0] * (len(BUCKETS) + 1)
_latency_sum = 0.0
_latency_count = 0
_recent: deque[float] = deque(maxlen=4096)
_hits = 0
_misses = 0

INFO_FIELDS = (
    "redis_version",
    "role",
    "used_memory",
    "used_memory_peak",
    "mem_fragmentation_ratio",
    "connected_clients",
    "keyspace_hits",
    "keyspace_misses",
    "instantaneous_ops_per_sec",
    "connected_slaves",
    "master_link_status",
    "master_last_io_seconds_ago",
    "master_repl_offset",
    "slave_repl_offset",
    "uptime_in_seconds",
    "run_id",
)


def observe_latency(seconds: float) -> None:
    global _latency_sum, _latency_count
    with _lock:
        _bucket_counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        _latency_sum += seconds
        _latency_count += 1
        _recent.append(seconds)


def count_read(*, hit: bool) -> None:
    global _hits, _misses
    with _lock:
        if hit:
            _hits += 1
        else:
            _misses += 1


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def client_stats() -> dict:
    with _lock:
        recent = sorted(_recent)
        hits, misses = _hits, _misses
        buckets, total, count = list(_bucket_counts), _latency_sum, _latency_count

    def ms(value):
        return None if value is None else round(value * 1000, 3)

    reads = hits + misses
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / reads, 4) if reads else None,
        "latency_ms": {
            "p50": ms(_percentile(recent, 0.50)),
            "p95": ms(_percentile(recent, 0.95)),
            "p99": ms(_percentile(recent, 0.99)),
            "samples": len(recent),
        },
        "histogram": {"buckets": buckets, "sum": total, "count": count},
    }


def reset_client_stats() -> None:
    global _latency_sum, _latency_count, _hits, _misses
    with _lock:
        for i in range(len(_bucket_counts)):
            _bucket_counts[i] = 0
        _latency_sum = 0.0
        _latency_count = 0
        _hits = _misses = 0
        _recent.clear()


def pool_stats(client=None) -> dict:
    pool = (client or get_redis()).connection_pool
    in_use = len(getattr(pool, "_in_use_connections", ()))
    available = len(getattr(pool, "_available_connections", ()))
    return {"in_use": in_use, "idle": available, "max": pool.max_connections}


def _replication(info: dict, repl: dict) -> dict:
    role = info.get("role")
    result: dict = {"role": role}
    if role == "master":
        offset = int(repl.get("master_repl_offset", 0))
        replicas = []
        for name, value in repl.items():
            if name.startswith("slave") and isinstance(value, dict):
                replicas.append(
                    {
                        "address": f"{value.get('ip')}:{value.get('port')}",
                        "state": value.get("state"),
                        "lag_bytes": offset - int(value.get("offset", 0)),
                        "lag_seconds": value.get("lag"),
                    }
                )
        result["replicas"] = replicas
    else:
        result["master_link_status"] = repl.get("master_link_status")
        result["lag_seconds"] = repl.get("master_last_io_seconds_ago")
    return result


def server_stats(client=None) -> dict:
    client = client or get_redis()
    info = redis_call(client.info)
    repl = redis_call(client.info, "replication")
    keyspace = {name: value for name, value in info.items() if name.startswith("db")}
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    return {
        "info": {name: info.get(name) for name in INFO_FIELDS if name in info},
        "keyspace": keyspace,
        "server_hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
        "replication": _replication(info, repl),
    }


def collect(*, with_hotkeys: bool = True) -> dict:
    from cache import hotkeys

    data: dict = {"at": time.time(), "breaker": breaker_status(), "client": client_stats()}
    try:
        data["server"] = server_stats()
        data["pool"] = pool_stats()
        if with_hotkeys:
            data["hotkeys"] = hotkeys.top_hotkeys(10, 60)
        data["available"] = True
    except RedisUnavailable as exc:
        data["available"] = False
        data["error"] = str(exc)
    return data


def _compact(data: dict) -> dict:
    info = data.get("server", {}).get("info", {})
    latency = data["client"]["latency_ms"]
    return {
        "t": round(data["at"], 1),
        "up": data["available"],
        "breaker": data["breaker"]["state"],
        "mem": info.get("used_memory"),
        "frag": info.get("mem_fragmentation_ratio"),
        "clients": info.get("connected_clients"),
        "ops": info.get("instantaneous_ops_per_sec"),
        "hits": info.get("keyspace_hits"),
        "misses": info.get("keyspace_misses"),
        "p50": latency["p50"],
        "p99": latency["p99"],
    }


def sample(*, force: bool = False, data: dict | None = None) -> dict | None:
    """Append one sample to the series if this 5-second slot has none yet; check hotkeys.

    ``data`` is a ``collect()`` result the caller already has (saves a second INFO).
    """
    from cache import hotkeys

    client = get_redis()
    try:
        if not force and not redis_call(client.set, SAMPLE_LOCK_KEY, 1, nx=True, ex=SAMPLE_EVERY):
            return None
        point = _compact(data if data is not None else collect(with_hotkeys=False))
        pipe = client.pipeline(transaction=True)
        pipe.lpush(SERIES_KEY, json.dumps(point))
        pipe.ltrim(SERIES_KEY, 0, SERIES_LENGTH - 1)
        redis_call(pipe.execute)
    except RedisUnavailable:
        return None
    hotkeys.check_threshold()
    return point


def series() -> list[dict]:
    """The last hour, oldest first ([] while Redis is unavailable)."""
    try:
        raw = redis_call(get_redis().lrange, SERIES_KEY, 0, SERIES_LENGTH - 1)
    except RedisUnavailable:
        return []
    return [json.loads(item) for item in reversed(raw)]


def _delta(newer: dict, older: dict) -> tuple[int, int] | None:
    """Hits and misses between two samples; None across a gap or a counter reset (restart)."""
    if None in (newer.get("hits"), newer.get("misses"), older.get("hits"), older.get("misses")):
        return None
    hits, misses = newer["hits"] - older["hits"], newer["misses"] - older["misses"]
    if hits < 0 or misses < 0:
        return None
    return hits, misses


def interval_hit_rates(points: list[dict]) -> list[dict]:
    """``{"at", "hit_rate", "lookups"}`` per sample: the server's hit rate since the sample
    before it (None where nothing was looked up, across a gap, or after a restart)."""
    out = []
    for older, newer in zip(points, points[1:], strict=False):
        delta = _delta(newer, older)
        lookups = sum(delta) if delta else 0
        rate = round(delta[0] / lookups, 4) if lookups else None
        out.append({"at": newer["t"], "hit_rate": rate, "lookups": lookups})
    return out


def server_hit_rate_over(seconds: float) -> tuple[float | None, int] | None:
    """(hit rate, lookups) of the server over the last ``seconds``, from the series and one
    INFO now: every process's reads. None while Redis is unavailable or before the series
    has a sample in the window; the window shrinks to the last restart of Redis."""
    current = _compact(collect(with_hotkeys=False))
    if not current["up"]:
        return None
    baseline = None
    for point in reversed(series()):  # newest first
        if point["t"] < current["t"] - seconds or _delta(current, point) is None:
            break
        baseline = point
    if baseline is None:
        return None
    hits, misses = _delta(current, baseline)
    lookups = hits + misses
    return (round(hits / lookups, 4) if lookups else None), lookups


# --- Prometheus ---------------------------------------------------------------------------------
def _line(name: str, value, labels: dict | None = None) -> str:
    if value is None:
        return ""
    label_text = ""
    if labels:
        label_text = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    return f"{name}{label_text} {value}\n"


def prometheus_text(data: dict) -> str:
    out = []
    client = data["client"]
    out.append("# TYPE platform_redis_up gauge\n")
    out.append(_line("platform_redis_up", int(data["available"])))
    out.append("# TYPE platform_redis_breaker_state gauge\n")
    out.append(_line("platform_redis_breaker_state", data["breaker"]["state_code"]))
    out.append(_line("platform_redis_breaker_failures", data["breaker"]["fail_counter"]))
    out.append("# TYPE platform_redis_cache_hits_total counter\n")
    out.append(_line("platform_redis_cache_hits_total", client["hits"]))
    out.append("# TYPE platform_redis_cache_misses_total counter\n")
    out.append(_line("platform_redis_cache_misses_total", client["misses"]))
    out.append("# TYPE platform_redis_command_seconds histogram\n")
    cumulative = 0
    histogram = client["histogram"]
    for bound, count in zip((*BUCKETS, "+Inf"), histogram["buckets"], strict=True):
        cumulative += count
        out.append(_line("platform_redis_command_seconds_bucket", cumulative, {"le": bound}))
    out.append(_line("platform_redis_command_seconds_sum", histogram["sum"]))
    out.append(_line("platform_redis_command_seconds_count", histogram["count"]))
    for q in ("p50", "p95", "p99"):
        value = client["latency_ms"][q]
        if value is not None:
            out.append(
                _line("platform_redis_command_latency_ms", value, {"quantile": q[1:].lstrip("0")})
            )
    if data["available"]:
        info = data["server"]["info"]
        for name in ("used_memory", "used_memory_peak", "connected_clients"):
            out.append(_line(f"platform_redis_{name}", info.get(name)))
        out.append(
            _line("platform_redis_mem_fragmentation_ratio", info.get("mem_fragmentation_ratio"))
        )
        for db, stats in data["server"]["keyspace"].items():
            out.append(_line("platform_redis_keys", stats.get("keys"), {"db": db}))
        repl = data["server"]["replication"]
        out.append(_line("platform_redis_is_primary", int(repl["role"] == "master")))
        for replica in repl.get("replicas", []):
            out.append(
                _line(
                    "platform_redis_replica_lag_bytes",
                    replica["lag_bytes"],
                    {"replica": replica["address"]},
                )
            )
        pool = data["pool"]
        out.append(_line("platform_redis_pool_in_use", pool["in_use"]))
        out.append(_line("platform_redis_pool_idle", pool["idle"]))
        out.append(_line("platform_redis_pool_max", pool["max"]))
    for row in data.get("hotkeys", []):
        out.append(_line("platform_redis_hotkey_rate", row["rate"], {"key": _escape(row["key"])}))
    return "".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
