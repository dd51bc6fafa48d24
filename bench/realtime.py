#!/usr/bin/env python3
"""Realtime fan-out: events per second delivered to N subscribers, and commit-to-socket latency.

One or two app server processes (uvicorn, platform_site.asgi) hold N websockets of N members of
one org, all subscribed to one record collection (by name). This process commits record changes
(each in its own transaction; ``publish_change`` sends on commit, stamping ``committed_at``) and
the sockets measure when each event arrives. Two phases:

* latency: events paced at --rate per second; p50/p99 of (arrival - commit) over all deliveries;
* throughput: --burst events as fast as they commit; deliveries / (last arrival - first commit).

    make bench-realtime            # or: .venv/bin/python bench/realtime.py --subscribers 100
"""

import argparse
import asyncio
import json
import statistics
import time

import _stack


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def open_socket(url: str, token: str, project_id: str):
    from websockets.asyncio.client import connect

    ws = await connect(url, origin="http://127.0.0.1", subprotocols=["platform.realtime.v1"],
                       max_queue=None)  # fmt: skip
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.send(json.dumps({"type": "subscribe", "org": "bench", "project": project_id,
                              "collection": "items"}))  # fmt: skip
    assert json.loads(await ws.recv())["type"] == "subscribed"
    return ws


async def reader(ws, arrivals: list, expected: int, done: asyncio.Event):
    count = 0
    async for raw in ws:
        now = time.time()
        message = json.loads(raw)
        if message.get("type") == "change":
            arrivals.append((message["record"]["phase"], now - message["committed_at"], now))
            count += 1
            if count >= expected:
                break
    done.set()


def publisher(collection, phase: str, count: int, rate: float | None, first_commit: list):
    from django.db import transaction

    from realtime.events import publish_change

    interval = 1 / rate if rate else 0
    start = time.perf_counter()
    for i in range(count):
        if interval:
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        with transaction.atomic():
            publish_change(org_id=collection.org_id, collection_id=collection.id, op="insert",
                           record={"id": i, "phase": phase}, owner_id=None,
                           owner_only=False)  # fmt: skip
        if i == 0:
            first_commit.append(time.time())


async def run(args, servers, tokens, collection):
    sockets = []
    for i, token in enumerate(tokens):
        server = servers[i % len(servers)]
        url = server.ws_url + "/realtime/v1/websocket"
        sockets.append(await open_socket(url, token, str(collection.project_id)))
    arrivals: list = []
    total = args.latency_events + args.burst
    done_events = [asyncio.Event() for _ in sockets]
    tasks = [asyncio.create_task(reader(ws, arrivals, total, done))
             for ws, done in zip(sockets, done_events, strict=True)]  # fmt: skip
    loop = asyncio.get_running_loop()
    first_latency: list = []
    await loop.run_in_executor(
        None, publisher, collection, "latency", args.latency_events, args.rate, first_latency
    )
    await asyncio.sleep(1)
    first_burst: list = []
    await loop.run_in_executor(None, publisher, collection, "burst", args.burst, None, first_burst)
    try:
        await asyncio.wait_for(asyncio.gather(*(d.wait() for d in done_events)), 120)
    except TimeoutError:
        pass
    for task in tasks:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return arrivals, first_burst[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--latency-events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    stack = _stack.start(need_postgres=True)
    servers = []
    try:
        from django.contrib.auth import get_user_model

        from authn.services.sessions import session_start
        from datastore.services import collection_create
        from tenants import services
        from tenants.models import Membership
        from tests.servers import AppServer

        user_model = get_user_model()
        owner = user_model.objects.create(username="bench-owner@example.com")
        org = services.org_create(actor=owner, name="Bench", slug="bench")
        users = [user_model(username=f"bench{i}@example.com") for i in range(args.subscribers)]
        users = user_model.objects.bulk_create(users)
        from tenants.context import TenantContext, tenant_context

        with tenant_context(TenantContext(org_id=org.id, user_id=owner.pk)):
            Membership.objects.bulk_create([Membership(org=org, user=u) for u in users])
            membership = Membership.objects.select_related("org").get(org=org, user=owner)
            project = services.project_create(membership=membership, name="bench")
            collection = collection_create(membership=membership, project=project, name="items")
        # Live sessions: a socket is authenticated like an API request.
        tokens = [session_start(user=u).access for u in users]
        servers = [AppServer().start() for _ in range(args.servers)]
        arrivals, burst_start = asyncio.run(run(args, servers, tokens, collection))
    finally:
        for server in servers:
            server.stop()
        stack.stop()
    latency = [lat * 1000 for phase, lat, _ in arrivals if phase == "latency"]
    burst = [(lat, at) for phase, lat, at in arrivals if phase == "burst"]
    expected = args.subscribers * args.burst
    span = max(at for _, at in burst) - burst_start
    print(f"realtime fan-out: {args.subscribers} subscribers on {args.servers} app server "
          f"process(es), one org, one collection")  # fmt: skip
    burst_latency = [lat * 1000 for lat, _ in burst]
    rows = [
        (
            f"paced at {args.rate:g} events/s: commit-to-socket p50",
            f"{statistics.median(latency):.1f} ms",
        ),
        (
            f"paced at {args.rate:g} events/s: commit-to-socket p99",
            f"{percentile(latency, 0.99):.1f} ms",
        ),
        (f"burst of {args.burst} events: deliveries/s", f"{len(burst) / span:,.0f}"),
        (
            "burst: commit-to-socket p50 / p99",
            f"{statistics.median(burst_latency):.0f} / {percentile(burst_latency, 0.99):.0f} ms",
        ),
        (
            "delivered / expected",
            f"{len(latency) + len(burst)} / {args.subscribers * args.latency_events + expected}",
        ),
    ]
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
