"""Dependency checks for the health endpoints: each returns status and latency."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from cache.breaker import breaker_status, redis_call
from cache.client import get_redis


@dataclass
class Check:
    name: str
    ok: bool
    latency_ms: float
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def timed(name: str, probe: Callable[[], str | None]) -> Check:
    started = time.perf_counter()
    try:
        detail = probe() or ""
        ok = True
    except Exception as exc:  # a health check reports every failure, whatever its type
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return Check(name, ok, round((time.perf_counter() - started) * 1000, 2), detail)


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


def readiness_checks() -> list[Check]:
    return [
        timed("postgres", _postgres),
        timed("migrations", _migrations),
        timed("redis", _redis),
    ]
