#!/usr/bin/env python3
"""The peer benchmark: the platform and Parse Server side by side on one machine, one
PostgreSQL cluster, one Redis, the same data and the same load generator.

    make bench-peer                      # 50 users x 1,000 items, 15 s cells, 2 rounds
    make bench-peer ARGS="--seconds 3 --rounds 1 --concurrency 16 --users 5 --items 100"

``make bench-peer`` installs what this needs (wrk from apt, Parse Server from
``bench/peer/package-lock.json`` with ``npm ci``). Then this script starts throwaway PostgreSQL
and Redis (or uses ``DATABASE_URL`` / ``REDIS_URL``), migrates, and serves

* the platform as the README's Production section runs it: nginx in front of gunicorn (2
  gthread workers, HTTP) and uvicorn (websockets),
  production settings, secrets made for the run, LOG_LEVEL=WARNING (login rate limits lifted,
  since one client address logs in thousands of times);
* Parse Server 9.10 with 2 workers (``server.js``) on its own database of the same cluster and
  Redis database 1 for its cache.

Both get the same data: ``--users`` users with ``--items`` owner-only items ``{title, n}`` each
and an index on ``n``. The platform is seeded in this process through the services (one org,
one project, a collection ``items`` with access "owner", the users as developers, each user's
records created in that user's own tenant context); Parse through its REST API (``seed.js``),
then a btree on ``"Item"(n)``. Tokens come from each system's login API (real sessions).

``wrk -t2`` drives each operation at each concurrency, a warm-up of ``--warmup`` seconds
unrecorded and then ``--seconds`` recorded, platform and Parse cell after cell (the order flips
every round), ``--rounds`` times; the table shows medians. Rows created by a create cell are
deleted and the table is vacuumed after it. Every response that is not 2xx (and every socket
error) is counted by the wrk scripts (``lua/common.lua``); any makes the run fail. The table
goes to stdout and to ``var/bench-peer.md``.
"""

import argparse
import json
import os
import platform as host
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

PEER = Path(__file__).resolve().parent
ROOT = PEER.parent.parent
LUA = PEER / "lua"
sys.path.insert(0, str(ROOT / "bench"))

PARSE_DATABASE = "peer_parse"
PARSE_VERSION = "9.10.0"
OWNER_EMAIL = "peer-owner@example.com"
# One client address logs in for every user and every login cell: the per-IP and per-account
# windows would answer 429 within seconds. The limiter still runs (its Redis round trip counts).
UNLIMITED = "1000000000/1"
RATE_LIMITS = {
    f"AUTHN_RATE_{action}_{key}": UNLIMITED
    for action in ("LOGIN", "REFRESH")
    for key in ("IP", "ACCOUNT")
}


@dataclass(frozen=True)
class Operation:
    key: str
    label: str
    platform_script: str
    parse_script: str
    tokens: bool = True  # the platform's script sends access tokens (refreshed before a cell)
    creates: bool = False


OPERATIONS = [
    Operation("live", "trivial (`/health/live` vs `/live`)", "platform_live", "parse_live", False),
    Operation("get", "get-by-id (own item)", "platform_get", "parse_get"),
    Operation("list", "list 20 (own items)", "platform_list", "parse_list"),
    Operation("filter", "list 20, `n >= x`", "platform_filter", "parse_filter"),
    Operation("create", "create", "platform_create", "parse_create", creates=True),
    Operation("login", "login", "platform_login", "parse_login", tokens=False),
]
SYSTEMS = ("platform", "parse")


def log(message: str) -> None:
    print(f"[bench-peer] {message}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15, help="recorded seconds per cell")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the table shows medians")
    parser.add_argument("--warmup", type=int, default=3, help="unrecorded seconds before a cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--items", type=int, default=1000, help="items per user")
    parser.add_argument(
        "--operations",
        nargs="+",
        choices=[op.key for op in OPERATIONS],
        default=[op.key for op in OPERATIONS],
    )
    parser.add_argument("--workers", type=int, default=2, help="per system")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-peer.md")
    args = parser.parse_args()
    if min(args.concurrency) < 2 or args.seconds < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--concurrency >= 2 (wrk -t2), --seconds >= 1, --rounds >= 1, --warmup >= 0")
    if args.users < 1 or args.items < 1:
        parser.error("--users and --items must be at least 1")
    return args


def require_tools() -> None:
    missing = [name for name in ("wrk", "node") if shutil.which(name) is None]
    if not (PEER / "node_modules" / "parse-server").is_dir():
        missing.append("bench/peer/node_modules (npm ci)")
    if missing:
        sys.exit(f"missing: {', '.join(missing)}. `make bench-peer` installs them.")


# --- the platform -----------------------------------------------------------------------------
@dataclass
class Person:
    user_id: int
    email: str
    password: str
    access: str = ""
    refresh: str = ""
    expires_at: float = 0.0  # time.monotonic() of the access token's expiry


@dataclass
class PlatformData:
    records_path: str
    collection_id: str
    people: list[Person]
    record_owners: list[tuple[int, str]] = field(default_factory=list)  # (person index, id)


def seed_platform(users: int, items: int) -> PlatformData:
    """One org, one project, an owner-only collection indexed on ``n``; each user a developer
    whose records are created in their own tenant context, through the services."""
    from authn.services import accounts as auth_accounts
    from datastore import services as data_services
    from datastore.constants import MAX_BULK, Access
    from tenants import selectors as tenant_selectors
    from tenants import services as tenant_services
    from tenants.constants import Role
    from tenants.context import TenantContext, tenant_context

    owner = auth_accounts.user_register(email=OWNER_EMAIL, password=secrets.token_urlsafe(16))
    org = tenant_services.org_create(actor=owner, name="Peer", slug="peer")
    with tenant_context(TenantContext(user_id=owner.pk)):
        owner_membership = tenant_selectors.membership_for(user=owner, org_ref=org.slug)
    as_owner = TenantContext(org_id=org.id, user_id=owner.pk, role=Role.OWNER)
    with tenant_context(as_owner):
        project = tenant_services.project_create(membership=owner_membership, name="bench")
        collection = data_services.collection_create(
            membership=owner_membership,
            project=project,
            name="items",
            access=Access.OWNER,
            indexes=["n"],
        )
    data = PlatformData(
        records_path=f"/api/v1/orgs/{org.slug}/projects/{project.id}/collections/items/records/",
        collection_id=str(collection.id),
        people=[],
    )
    for index in range(users):
        name = f"bench{index}"
        person = Person(user_id=0, email=f"{name}@example.com", password=f"pw-{name}-peer-bench")
        user = auth_accounts.user_register(email=person.email, password=person.password)
        person.user_id = user.pk
        with tenant_context(as_owner):
            tenant_services.member_add(
                membership=owner_membership, email=person.email, role=Role.DEVELOPER
            )
        own = TenantContext(org_id=org.id, user_id=user.pk, role=Role.DEVELOPER)
        with tenant_context(own):
            membership = tenant_selectors.membership_for(user=user, org_ref=org.slug)
            for first in range(0, items, MAX_BULK):
                batch = [
                    {"title": f"item {k} of {name}", "n": k}
                    for k in range(first, min(items, first + MAX_BULK))
                ]
                created = data_services.record_bulk_create(
                    membership=membership, collection=collection, items=batch
                )
                data.record_owners += [(index, str(record.id)) for record in created]
        data.people.append(person)
    return data


def platform_login(client, people: list[Person]) -> None:
    for person in people:
        response = client.post(
            "/api/v1/auth/login/", json={"email": person.email, "password": person.password}
        )
        _keep_tokens(person, response, "login")


def platform_refresh(client, people: list[Person]) -> None:
    for person in people:
        response = client.post("/api/v1/auth/refresh/", json={"refresh": person.refresh})
        _keep_tokens(person, response, "refresh")


def _keep_tokens(person: Person, response, what: str) -> None:
    if response.status_code != 200:
        sys.exit(f"platform {what} of {person.email}: {response.status_code} {response.text[:300]}")
    body = response.json()
    person.access, person.refresh = body["access"], body["refresh"]
    person.expires_at = time.monotonic() + body["expires_in"]


def write_platform_files(directory: Path, data: PlatformData) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "users.txt").write_text(
        "".join(f"{p.user_id} {p.access} {p.email} {p.password}\n" for p in data.people)
    )
    (directory / "pairs.txt").write_text(
        "".join(f"{index + 1} {record_id}\n" for index, record_id in data.record_owners)
    )


# --- Parse Server -----------------------------------------------------------------------------
class ParseServer:
    """``node server.js`` (a node cluster of ``workers``), stopped with its process group."""

    def __init__(self, *, workers: int, env: dict, log_path: Path):
        from scripts import devstack

        self.port = devstack.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.env = {
            **os.environ,
            **env,
            "PARSE_PORT": str(self.port),
            "PARSE_SERVER_LOGS_FOLDER": str(log_path.parent / "parse-logs"),
            "WORKERS": str(workers),
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> "ParseServer":
        import httpx

        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                ["node", "server.js"],
                cwd=PEER,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Parse Server exited: {self.log_path}")
            # Workers start one after another; each says so when it listens.
            if self.log_path.read_text().count("parse-server pid=") >= self.workers:
                try:
                    if httpx.get(f"{self.url}/parse/health", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"Parse Server did not start in {timeout:.0f} s: {self.log_path}")

    def stop(self) -> None:
        from scripts import devstack

        if self.process is not None:
            devstack.stop_group(self.process)


def parse_env(redis_url: str) -> dict:
    from datastore import backups

    params = backups.owner_params(PARSE_DATABASE)
    database_uri = (
        f"postgres://{quote(params['user'])}:{quote(params['password'])}"
        f"@{params['host']}:{params['port']}/{PARSE_DATABASE}"
    )
    return {
        "PARSE_DATABASE_URI": database_uri,
        "PARSE_REDIS_URL": urlunparse(urlparse(redis_url)._replace(path="/1")),
        "PARSE_MASTER_KEY": secrets.token_hex(24),
        "CACHE": "redis",
    }


def seed_parse(server: ParseServer, directory: Path, users: int, items: int) -> None:
    env = {**server.env, "NUSERS": str(users), "PER": str(items), "OUT": str(directory)}
    subprocess.run(["node", "seed.js"], cwd=PEER, env=env, check=True)
    with _owner(PARSE_DATABASE) as connection:
        connection.execute('CREATE INDEX IF NOT EXISTS item_n ON "Item" (n)')


# --- both -------------------------------------------------------------------------------------
def check_answers(platform_url: str, parse_url: str, data: PlatformData, parse_dir: Path) -> None:
    """Before anything is timed: each system answers each read with the caller's own items, as
    many as asked for, matching the filter (a fast empty answer would be no measurement)."""
    import _stack
    import httpx

    items = len(data.record_owners) // len(data.people)
    low = items // 2
    want = min(20, items - low)
    person = data.people[0]
    own = next(record_id for index, record_id in data.record_owners if index == 0)
    headers = {**_stack.PROXY_HEADERS, "Authorization": f"Bearer {person.access}"}
    with httpx.Client(base_url=platform_url, headers=headers, timeout=30) as client:
        one = _json(client.get(f"{data.records_path}{own}/"), "platform get-by-id")
        page = _json(client.get(data.records_path, params={"limit": 20}), "platform list")
        found = _json(
            client.get(data.records_path, params={"filter": f"n:gte:{low}", "limit": 20}),
            "platform filtered list",
        )
    _expect(one["owner_id"] == person.user_id, "platform get-by-id: not the caller's record")
    rows, matches = page["results"], found["results"]
    _expect(len(rows) == min(20, items), "platform list")
    _expect(all(row["owner_id"] == person.user_id for row in rows + matches), "platform owner")
    _expect(len(matches) == want and all(r["data"]["n"] >= low for r in matches), "platform filter")

    object_id, token, _name = (parse_dir / "users.txt").read_text().splitlines()[0].split()
    item = next(
        line.split()[1]
        for line in (parse_dir / "pairs.txt").read_text().splitlines()
        if line.startswith(token)
    )
    headers = {"X-Parse-Application-Id": "bench", "X-Parse-Session-Token": token}
    with httpx.Client(base_url=f"{parse_url}/parse", headers=headers, timeout=30) as client:
        one = _json(client.get(f"/classes/Item/{item}"), "Parse get-by-id")
        rows = _json(client.get("/classes/Item", params={"limit": 20}), "Parse list")["results"]
        where = json.dumps({"n": {"$gte": low}})
        matches = _json(
            client.get("/classes/Item", params={"where": where, "limit": 20}), "Parse filter"
        )["results"]
    _expect(one["owner"]["objectId"] == object_id, "Parse get-by-id: not the caller's item")
    _expect(len(rows) == min(20, items), "Parse list")
    _expect(all(row["owner"]["objectId"] == object_id for row in rows + matches), "Parse owner")
    _expect(len(matches) == want and all(r["n"] >= low for r in matches), "Parse filter")


def _json(response, what: str) -> dict:
    _expect(response.status_code == 200, f"{what}: {response.status_code} {response.text[:300]}")
    return response.json()


def _expect(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"wrong answer before the measurement: {what}")


def _owner(database: str | None = None):
    from datastore import backups

    return backups.owner_connection(database, autocommit=True)


# Where each system keeps the items: (database, None for the platform's own; table).
ITEM_TABLES = {"platform": (None, "datastore_record"), "parse": (PARSE_DATABASE, '"Item"')}


def vacuum(system: str) -> None:
    database, table = ITEM_TABLES[system]
    with _owner(database) as connection:
        connection.execute(f"VACUUM ANALYZE {table}")


def delete_created(system: str, collection_id: str) -> int:
    """Rows the create scripts wrote (their titles start with "bench "), then VACUUM ANALYZE."""
    database, _table = ITEM_TABLES[system]
    with _owner(database) as connection:
        if system == "platform":
            query = (
                "DELETE FROM datastore_record WHERE collection_id = %s AND data->>'title' LIKE %s"
            )
            deleted = connection.execute(query, [collection_id, "bench %"]).rowcount
        else:
            query = 'DELETE FROM "Item" WHERE title LIKE %s'
            deleted = connection.execute(query, ["bench %"]).rowcount
    vacuum(system)
    return deleted


@dataclass
class Cell:
    rps: float
    p50: float
    p99: float
    bad: int  # non-2xx responses plus socket errors (1 when no request completed)
    detail: str


def wrk(url: str, script: str, env: dict, concurrency: int, seconds: int) -> Cell:
    command = [
        "wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s",
        "-s", str(LUA / f"{script}.lua"), url,
    ]  # fmt: skip
    result = subprocess.run(
        command,
        env={**os.environ, "LUA_DIR": str(LUA), **env},
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH ")), None)
    if result.returncode != 0 or line is None:
        sys.exit(f"wrk {script} failed ({result.returncode}): {result.stderr[-500:]}")
    stats = json.loads(line.removeprefix("BENCH "))
    socket_errors = {k: stats[k] for k in ("connect", "read", "write", "timeout") if stats[k]}
    detail = []
    if stats["non2xx"]:
        statuses = " ".join(sorted(set(stats["statuses"].split())))
        detail.append(f"{stats['non2xx']} x HTTP {statuses}")
    detail += [f"{count} {kind} errors" for kind, count in socket_errors.items()]
    if not stats["requests"]:
        detail.append("no request completed")  # nothing measured: as void as an error
    return Cell(
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50=stats["p50_us"] / 1000,
        p99=stats["p99_us"] / 1000,
        bad=stats["non2xx"] + sum(socket_errors.values()) + (not stats["requests"]),
        detail=", ".join(detail),
    )


def cell_text(cells: list[Cell]) -> str:
    bad = sum(c.bad for c in cells)
    return "0" if not bad else f"**{bad} FAIL** ({'; '.join(c.detail for c in cells if c.bad)})"


def _median(cells: list[Cell], attribute: str) -> float:
    return statistics.median(getattr(cell, attribute) for cell in cells)


def table(results: dict, operations: list[Operation], concurrencies: list[int]) -> list[str]:
    lines = [
        "| operation | c | platform req/s | Parse req/s | ratio | p50 ms platform / Parse "
        "| p99 ms platform / Parse | non-2xx platform / Parse |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op in operations:
        for concurrency in concurrencies:
            ours = results[(op.key, concurrency, "platform")]
            theirs = results[(op.key, concurrency, "parse")]
            if not ours or not theirs:
                continue
            rps = _median(ours, "rps"), _median(theirs, "rps")
            ratio = f"{rps[0] / rps[1]:.2f}" if rps[1] else "n/a"
            lines.append(
                f"| {op.label} | {concurrency} | {rps[0]:,.0f} | {rps[1]:,.0f} | {ratio} "
                f"| {_median(ours, 'p50'):,.1f} / {_median(theirs, 'p50'):,.1f} "
                f"| {_median(ours, 'p99'):,.1f} / {_median(theirs, 'p99'):,.1f} "
                f"| {cell_text(ours)} / {cell_text(theirs)} |"
            )
    return lines


def versions() -> str:
    import redis

    with _owner() as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0].split()[0]
    redis_version = redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["redis_version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"PostgreSQL {postgres}, Redis {redis_version}, Node.js {node}"


def main() -> int:
    args = parse_args()
    require_tools()
    import _stack

    stack = _stack.start(need_postgres=True)
    servers: list = []
    try:
        return run(args, _stack, servers)
    finally:
        for server in reversed(servers):
            server.stop()
        stack.stop()


def run(args, _stack, servers: list) -> int:
    import httpx
    from django.db import connections

    from datastore import backups

    command = "python bench/peer/run.py " + " ".join(sys.argv[1:])
    started_at = datetime.now(UTC)
    load = os.getloadavg()
    work = Path(os.environ["PLATFORM_VAR_DIR"]) / "peer"
    work.mkdir(parents=True, exist_ok=True)
    operations = [op for op in OPERATIONS if op.key in args.operations]
    dirs = {"platform": work / "platform", "parse": work / "parse"}

    log(f"seeding the platform: {args.users} users x {args.items} items (services, in-process)")
    began = time.monotonic()
    data = seed_platform(args.users, args.items)
    platform_seconds = time.monotonic() - began
    for connection in connections.all():
        connection.close()
    vacuum("platform")
    log(f"platform seeded in {platform_seconds:.1f} s")

    backups.drop_database(PARSE_DATABASE)
    backups.create_database(PARSE_DATABASE)
    platform = _stack.PlatformServer(
        workers=args.workers, env=RATE_LIMITS, log_path=work / "platform.log"
    )
    servers.append(platform.start())
    parse = ParseServer(
        workers=args.workers, env=parse_env(os.environ["REDIS_URL"]), log_path=work / "parse.log"
    )
    servers.append(parse.start())
    log(f"platform on {platform.url}, Parse Server on {parse.url}")

    log(f"seeding Parse: {args.users} users x {args.items} items (REST API, /batch of 50)")
    began = time.monotonic()
    seed_parse(parse, dirs["parse"], args.users, args.items)
    parse_seconds = time.monotonic() - began
    vacuum("parse")

    client = httpx.Client(base_url=platform.url, headers=_stack.PROXY_HEADERS, timeout=60)
    platform_login(client, data.people)
    write_platform_files(dirs["platform"], data)
    check_answers(platform.url, parse.url, data, dirs["parse"])

    urls = {"platform": platform.url, "parse": parse.url}
    env = {
        "platform": {"BENCH_DATA": str(dirs["platform"]), "RECORDS_PATH": data.records_path},
        "parse": {"BENCH_DATA": str(dirs["parse"])},
    }
    results: dict = {
        (op.key, c, system): [] for op in operations for c in args.concurrency for system in SYSTEMS
    }
    cell_seconds = args.warmup + args.seconds
    for round_number in range(1, args.rounds + 1):
        order = SYSTEMS if round_number % 2 else tuple(reversed(SYSTEMS))
        for concurrency in args.concurrency:
            for op in operations:
                for system in order:
                    script = op.platform_script if system == "platform" else op.parse_script
                    if system == "platform" and op.tokens:
                        soonest = min(p.expires_at for p in data.people)
                        if soonest < time.monotonic() + cell_seconds + 60:
                            platform_refresh(client, data.people)
                            write_platform_files(dirs["platform"], data)
                    if args.warmup:
                        wrk(urls[system], script, env[system], concurrency, args.warmup)
                    cell = wrk(urls[system], script, env[system], concurrency, args.seconds)
                    results[(op.key, concurrency, system)].append(cell)
                    deleted = delete_created(system, data.collection_id) if op.creates else 0
                    log(
                        f"round {round_number} c={concurrency} {op.key} {system}: "
                        f"{cell.rps:,.0f} req/s, p50 {cell.p50:.1f} ms, p99 {cell.p99:.1f} ms"
                        + (f", {cell.bad} FAILED ({cell.detail})" if cell.bad else "")
                        + (f", {deleted} created rows deleted" if op.creates else "")
                    )
    client.close()

    failed = any(c.bad for cells in results.values() for c in cells)
    lines = [
        "# Peer benchmark: the platform and Parse Server",
        "",
        f"`{command.strip()}`, {started_at:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
        f"({host.machine()}), load average {load[0]:.2f} at the start. {versions()}; "
        f"Parse Server {PARSE_VERSION}.",
        "",
        f"Platform: nginx, gunicorn {args.workers} gthread workers x {platform.threads} "
        f"threads, production settings. Parse: "
        f"{args.workers} workers (node cluster), Redis cache. Data: {args.users} users x "
        f"{args.items} owner-only items each; seeding took {platform_seconds:.0f} s (platform, "
        f"services in-process) and {parse_seconds:.0f} s (Parse, REST API). `wrk -t2`, "
        f"{args.warmup} s warm-up + {args.seconds} s per cell, interleaved, {args.rounds} "
        f"round(s), medians. Ratio: platform / Parse req/s.",
        "",
        *table(results, operations, args.concurrency),
        "",
    ]
    if failed:
        lines.append("**FAILED**: responses that were not 2xx void the cells marked FAIL.")
    report = "\n".join(lines) + "\n"
    print("\n" + report, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    log(f"written to {args.out}")
    if failed:  # the servers' logs go with the run's temporary directory: show their ends
        for server in (platform, parse):
            tail = server.log_path.read_text(errors="replace").splitlines()[-20:]
            print(f"\nthe end of {server.log_path.name}:\n" + "\n".join(tail), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
