#!/usr/bin/env python3
"""What hotkey sampling costs a request.

Requests go through the whole Django middleware stack (test client, no network) to a view that
makes five cache reads, like a request reading its session and a few cached objects. The same
run is repeated with the sampler off (rate 0) and on at several rates; the table gives requests
per second and the ratio to "off".

    make bench-hotkeys            # or: .venv/bin/python bench/hotkeys.py --requests 3000
"""

import argparse
import random
import statistics
import sys
import time
import types

import _stack

READS_PER_REQUEST = 5


def view(request):
    from django.core.cache import cache
    from django.http import JsonResponse

    keys = [f"obj:{int(random.paretovariate(1.2)) % 1000}" for _ in range(READS_PER_REQUEST)]
    return JsonResponse({"found": sum(cache.get(k) is not None for k in keys)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stack = _stack.start(need_postgres=False)
    try:
        from django.core.cache import cache
        from django.test import Client, override_settings
        from django.urls import path

        from tenants.middleware import tenant_exempt

        module = types.ModuleType("bench_urls")
        module.urlpatterns = [path("bench", tenant_exempt(view))]
        sys.modules["bench_urls"] = module
        for i in range(0, 1000, 2):
            cache.set(f"obj:{i}", i, 600)
        client = Client()
        rates = [0.0, 0.01, 0.1, 1.0]
        results: dict[float, list[float]] = {rate: [] for rate in rates}
        with override_settings(ROOT_URLCONF="bench_urls", ALLOWED_HOSTS=["testserver"]):
            for _ in range(200):  # warm-up
                client.get("/bench")
            for _ in range(args.rounds):  # interleaved rounds even out machine noise
                for rate in rates:
                    with override_settings(REDIS_HOTKEY_SAMPLE_RATE=rate):
                        started = time.perf_counter()
                        for _ in range(args.requests):
                            assert client.get("/bench").status_code == 200
                        results[rate].append(args.requests / (time.perf_counter() - started))
        base = statistics.median(results[0.0])
        print(f"hotkey sampler cost ({READS_PER_REQUEST} cache reads per request, "
              f"{args.requests} requests x {args.rounds} rounds, median)")  # fmt: skip
        print("| sample rate | requests/s | ratio to off |")
        print("|---|---|---|")
        for rate in rates:
            rps = statistics.median(results[rate])
            label = "off" if rate == 0 else f"{rate:g}"
            print(f"| {label} | {rps:,.0f} | {rps / base:.3f} |")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
