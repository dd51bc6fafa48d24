"""Session-validation latency: cache hit, cache miss, breaker open (PostgreSQL fallback).

What is timed is what the auth middleware does for every bearer request before the view:
verify the access JWT (signature, alg, iss/aud, exp, type) and check that its session is
live (``authn.services.session_check.session_is_live``). Run it against real servers:

    make bench-sessions                      # throwaway PostgreSQL + Redis, then this script
    python scripts/devstack.py bench bench/session_validation.py -- --n 5000

Prints a Markdown table (milliseconds) and the cache counters that prove each scenario ran
the path it is named after.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")

import django  # noqa: E402

django.setup()

from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from authn.services import session_check, sessions  # noqa: E402
from cache import sessions as session_cache  # noqa: E402
from cache.breaker import redis_breaker  # noqa: E402
from cache.client import get_redis  # noqa: E402
from tests.factories import UserFactory  # noqa: E402


def validate(raw: str) -> bool:
    token = AccessToken(raw)
    return session_check.session_is_live(session_id=token["sid"], user_id=int(token["sub"]))


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "mean": statistics.fmean(ordered)}


def run(name: str, pairs, n: int, before=None) -> dict:
    samples = []
    start = session_cache.stats.snapshot()
    for i in range(n):
        pair = pairs[i % len(pairs)]
        if before:
            before(pair)
        t0 = time.perf_counter()
        ok = validate(pair.access)
        samples.append((time.perf_counter() - t0) * 1000)
        assert ok, f"{name}: a live session was refused"
    end = session_cache.stats.snapshot()
    counters = {k: end[k] - start[k] for k in end}
    return {"name": name, "n": n, **percentiles(samples), "counters": counters}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3000, help="validations per scenario")
    parser.add_argument("--sessions", type=int, default=200)
    args = parser.parse_args()

    users = [UserFactory() for _ in range(20)]
    pairs = [sessions.session_start(user=random.choice(users)) for _ in range(args.sessions)]
    redis = get_redis()
    session_check.sessions_warm()
    run("warm-up", pairs, 200)

    results = [run("cache hit", pairs, args.n)]
    results.append(
        run(
            "cache miss (PostgreSQL, then re-cache)",
            pairs,
            args.n,
            before=lambda p: redis.delete(session_cache.key(p.session_id)),
        )
    )
    redis_breaker.reset_timeout = 3600  # keep it open for the whole scenario
    redis_breaker.open()
    try:
        results.append(run("breaker open (PostgreSQL only)", pairs, args.n))
    finally:
        redis_breaker.close()

    print(f"\nSession validation latency, {args.n} validations per scenario (ms)\n")
    print("| scenario | p50 | p95 | p99 | mean | hits / misses / redis unavailable |")
    print("|---|---:|---:|---:|---:|---|")
    for r in results:
        c = r["counters"]
        print(
            f"| {r['name']} | {r['p50']:.3f} | {r['p95']:.3f} | {r['p99']:.3f} | {r['mean']:.3f} "
            f"| {c['hits']} / {c['misses']} / {c['unavailable']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
