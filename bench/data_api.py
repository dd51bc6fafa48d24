"""Data API benchmark: throughput and p50/p95/p99 latency, with and without row-level security.

    make bench-data                      # or: make bench-data ARGS="--seconds 20"

Seeds two orgs (each with ``--records`` records in one collection), copies the database and
disables RLS on every table of the copy, then for each database serves the platform in its
production shape (nginx, gunicorn gthread workers, production settings: ``_stack.PlatformServer``)
and drives it with ``--concurrency`` concurrent HTTP connections per operation, as the org's
owner with the access token of a live session (as login issues it):

* get-by-id   GET  .../records/<id>/
* list-20     GET  .../records/?filter=n:gte:<random>&limit=20
* create      POST .../records/

The app still filters by org and collection in SQL on the copy, so answers are the same; the
difference is what the policies (and their per-row checks) cost. Prints a Markdown table.

``--end-user``: the same three operations on the client routes
(``/client/v1/collections/items/records/``) as a signed-in end user of the project, through
its publishable key, with owner-only rules (authenticated: owner, for all four operations);
two end users of the project hold ``--records`` records each, the second org's developer
rows share the table. On the copy without RLS the rules no longer apply, but the selector
still asks for the caller's rows (``end_user_id = caller``), so the answers are the same.
Any response that is not 2xx (or no response) is counted per cell and fails the run (exit 1).
"""

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("LOG_LEVEL", "WARNING")  # a log line per request would slow the client

import django  # noqa: E402

django.setup()

import _stack  # noqa: E402
import httpx  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from psycopg import sql  # noqa: E402

from datastore import backups  # noqa: E402
from datastore import services as data_services  # noqa: E402
from tenants import services  # noqa: E402
from tenants.context import TenantContext, set_tenant_context  # noqa: E402
from tests.factories import UserFactory  # noqa: E402
from tests.tokens import access_token  # noqa: E402


def seed(slug: str, records: int) -> dict:
    owner = UserFactory()
    org = services.org_create(actor=owner, name=slug, slug=slug)
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        membership = org.memberships.get()
        project = services.project_create(membership=membership, name="bench")
        collection = data_services.collection_create(
            membership=membership, project=project, name="items", indexes=["n"]
        )
        ids = []
        for start in range(0, records, 500):
            batch = [
                {"n": i, "name": f"item {i}", "tags": ["even" if i % 2 == 0 else "odd"]}
                for i in range(start, min(start + 500, records))
            ]
            created = data_services.record_bulk_create(
                membership=membership, collection=collection, items=batch
            )
            ids += [str(r.id) for r in created]
    return {
        "owner": owner,
        "url": f"/api/v1/orgs/{slug}/projects/{project.id}/collections/items/records/",
        "ids": ids,
        "records": records,
    }


def seed_end_users(slug: str, records: int) -> dict:
    """A project with a publishable key, owner-only rules and two end users' records."""
    from access import services as access_services
    from datastore.models import Record
    from endusers.models import EndUser
    from endusers.services.sessions import end_user_session_start

    owner = UserFactory()
    org = services.org_create(actor=owner, name=slug, slug=slug)
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        membership = org.memberships.get()
        project = services.project_create(membership=membership, name="bench")
        _, key = services.api_key_create(membership=membership, project=project, kind="publishable")
        collection = data_services.collection_create(
            membership=membership, project=project, name="items", indexes=["n"]
        )
        for op in ("select", "insert", "update", "delete"):
            access_services.rule_set(
                membership=membership,
                project=project,
                resource_type="collection",
                resource_id=collection.id,
                operation=op,
                client_role="authenticated",
                kind="owner",
            )
        service = TenantContext(org_id=org.id, project_id=project.id, client_role="service_role")
        set_tenant_context(service)
        people = [
            EndUser.objects.create(org_id=org.id, project=project, email=f"{n}@bench.example")
            for n in ("a", "b")
        ]
        ids = []
        for person in people:
            # Written as the end user: the database sets end_user_id from the context.
            set_tenant_context(
                TenantContext(
                    org_id=org.id,
                    project_id=project.id,
                    client_role="authenticated",
                    end_user_id=person.id,
                )
            )
            for start in range(0, records, 500):
                created = Record.objects.bulk_create(
                    Record(
                        org_id=org.id,
                        project=project,
                        collection=collection,
                        data={"n": i, "name": f"item {i}", "tags": []},
                    )
                    for i in range(start, min(start + 500, records))
                )
                if person is people[0]:
                    ids += [str(r.id) for r in created]
    return {
        "key": key,
        "project": project,
        "end_user": people[0],
        "url": "/client/v1/collections/items/records/",
        "ids": ids,
        "records": records,
        "start_session": lambda: end_user_session_start(project=project, end_user=people[0]),
    }


def copy_without_rls(source: str) -> str:
    copy = f"{source}_norls"
    for connection in connections.all():
        connection.close()
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()  # a template database must have no sessions
    backups.drop_database(copy)
    with backups.owner_connection(autocommit=True) as owner:
        owner.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(copy), sql.Identifier(source)
            )
        )
    with backups.owner_connection(copy, autocommit=True) as owner:
        tables = owner.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relrowsecurity"
        ).fetchall()
        for (table,) in tables:
            owner.execute(
                sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(sql.Identifier(table))
            )
            owner.execute(
                sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(sql.Identifier(table))
            )
    return copy


def start_server(database: str, workers: int) -> _stack.PlatformServer:
    url = urlparse(os.environ["DATABASE_URL"])
    env = {
        "DATABASE_URL": urlunparse(url._replace(path=f"/{database}")),
        "DATABASE_POOL_MAX_SIZE": "32",
    }
    log_path = Path(os.environ["PLATFORM_VAR_DIR"]) / f"bench-data-{database}.log"
    return _stack.PlatformServer(workers=workers, env=env, log_path=log_path).start()


def operations(org: dict) -> dict:
    headers = {"Authorization": f"Bearer {org['token']}", **org.get("headers", {})}

    async def get_by_id(client):
        return await client.get(f"{org['url']}{random.choice(org['ids'])}/", headers=headers)

    async def list_20(client):
        low = random.randrange(org["records"])
        return await client.get(
            org["url"], params={"filter": f"n:gte:{low}", "limit": "20"}, headers=headers
        )

    async def create(client):
        return await client.post(
            org["url"], json={"data": {"n": -1, "name": "new", "tags": []}}, headers=headers
        )

    return {"get-by-id": get_by_id, "list-20 (filter)": list_20, "create": create}


async def measure(base, operation, concurrency: int, seconds: float, warmup: float) -> dict:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors: list[str] = []  # status codes of failed requests, or the error of a missing response
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=60, headers=_stack.PROXY_HEADERS
    ) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + seconds

        async def worker():
            while True:
                began = time.perf_counter()
                if began >= stop:
                    return
                try:
                    response = await operation(client)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                ended = time.perf_counter()
                if began >= measure_from:
                    if isinstance(status, int) and 200 <= status <= 299:
                        latencies.append(ended - began)
                    else:
                        errors.append(str(status))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "rps": len(latencies) / seconds,
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "failed": len(errors),
        "errors": f"**{len(errors)} FAIL** {sorted(set(errors))}" if errors else "0",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20000, help="records per org")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per cell")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument(
        "--end-user",
        action="store_true",
        help="client routes as an end user (publishable key, owner-only rules)",
    )
    args = parser.parse_args()

    print(f"seeding 2 orgs x {args.records} records ...", flush=True)
    if args.end_user:
        org = seed_end_users("bench-a", args.records)
    else:
        org = seed("bench-a", args.records)
    seed("bench-b", args.records)  # the other tenant's rows share the table
    # A live session (a bare JWT is refused), made once seeding is done so the access token
    # lasts the run, and before the copy so both databases hold the session.
    if args.end_user:
        org["token"] = org["start_session"]().access_token
        org["headers"] = {"apikey": org["key"]}
    else:
        org["token"] = access_token(org["owner"])
    source = connections["owner"].settings_dict["NAME"]
    copy = copy_without_rls(source)
    rows = []
    results: dict = {}
    variants = [("RLS on", source), ("RLS off (copy)", copy)]
    # Both servers run side by side and the two variants alternate cell by cell, so drift on
    # a shared machine (other load, caches warming) falls on both alike.
    servers = []
    try:
        for label, database in variants:
            servers.append((label, start_server(database, args.workers)))
        for concurrency in args.concurrency:
            for name, operation in operations(org).items():
                for label, server in servers:
                    result = asyncio.run(
                        measure(server.url, operation, concurrency, args.seconds, args.warmup)
                    )
                    results[(label, concurrency, name)] = result
                    rows.append(
                        f"| {label} | {concurrency} | {name} | {result['rps']:.0f} | "
                        f"{result['p50']:.1f} | {result['p95']:.1f} | {result['p99']:.1f} | "
                        f"{result['errors']} |"
                    )
                    print(rows[-1], flush=True)
    finally:
        for _label, server in servers:
            server.stop()
    backups.drop_database(copy)

    print("\n| RLS | connections | operation | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| connections | operation | throughput RLS on / off | p50 RLS on / off |")
    print("|---|---|---|---|")
    for concurrency in args.concurrency:
        for name in operations(org):
            on, off = (
                results[("RLS on", concurrency, name)],
                results[("RLS off (copy)", concurrency, name)],
            )
            ratio = on["rps"] / off["rps"] if off["rps"] else float("nan")
            latency = on["p50"] / off["p50"] if off["p50"] else float("nan")
            print(f"| {concurrency} | {name} | {ratio:.2f} | {latency:.2f} |")
    failed = sum(result["failed"] for result in results.values())
    if failed:
        print(f"\nFAILED: {failed} responses were not 2xx (see the errors column).", flush=True)
        for label, server in servers:
            tail = server.log_path.read_text(errors="replace").splitlines()[-20:]
            print(f"\n{label}: the end of {server.log_path.name}\n" + "\n".join(tail))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
