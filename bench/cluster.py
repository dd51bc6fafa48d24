#!/usr/bin/env python3
"""Throughput of the scaled-out platform at N = 1, 2 and 4 app instances behind nginx.

    make bench-cluster                                  # N = 1, 2, 4; c = 64; 15 s cells
    make bench-cluster ARGS="--instances 1 2 4 8 --concurrency 256 --seconds 30 --threads 16"

For each N, ``scripts/cluster.py``'s ``Cluster`` starts the whole topology on free loopback
ports (nginx, N instances of gunicorn gthread + uvicorn, PgBouncer in transaction mode over a
PostgreSQL primary with a streaming standby, Redis Sentinel, Celery), one developer account
seeds an org-wide collection of ``--records`` records through the API, and ``wrk -t2`` drives
two routes through nginx, a warm-up of ``--warmup`` seconds and then ``--seconds`` recorded:
a list of 20 records and a get of one record by id (the peer benchmark's wrk scripts,
``bench/peer/lua``). Any response that is not 2xx, and any socket error, fails the run. The
Markdown table (with the command and the machine) goes to stdout and ``var/bench-cluster.md``.

Each instance is one gunicorn process: on the 2-core development machine N = 2 puts the
second core to work and N = 4 stays flat. On a larger machine the same command shows what
adding instances buys.
"""

import argparse
import os
import platform as host
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH / "peer"))

import run as peer  # noqa: E402  (bench/peer/run.py: its wrk runner and scripts)

from scripts.cluster import Cluster  # noqa: E402

PASSWORD = "a long benchmark passphrase"  # noqa: S105
ROUTES = [("list 20", "platform_list"), ("get by id", "platform_get")]
# One client address makes every request: the auth limits would refuse the seeding's logins.
RATE_LIMITS = {"AUTHN_RATE_LOGIN_IP": "100000/60", "AUTHN_RATE_REGISTER_IP": "100000/60"}


def log(message: str) -> None:
    print(f"[bench-cluster] {message}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per instance")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-cluster.md")
    args = parser.parse_args()
    if args.concurrency < 2 or args.seconds < 1 or min(args.instances) < 1:
        parser.error("--concurrency >= 2 (wrk -t2), --seconds >= 1, --instances >= 1")
    return args


def seed(url: str, data_dir: Path, records: int) -> str:
    """A developer, an org, a project, a collection of ``records`` records; the wrk scripts'
    data files (``users.txt``, ``pairs.txt``, as bench/peer writes them). Returns the
    collection's records path."""
    with httpx.Client(base_url=url, timeout=60) as client:
        email = "bench@example.com"
        account = client.post("/api/v1/auth/register/", json={"email": email, "password": PASSWORD})
        account.raise_for_status()
        token = account.json()["access"]
        auth = {"Authorization": f"Bearer {token}"}
        org = client.post("/api/v1/orgs/", json={"name": "Bench"}, headers=auth)
        org.raise_for_status()
        slug = org.json()["slug"]
        project = client.post(f"/api/v1/orgs/{slug}/projects/", json={"name": "b"}, headers=auth)
        project.raise_for_status()
        base = f"/api/v1/orgs/{slug}/projects/{project.json()['id']}/collections"
        client.post(f"{base}/", json={"name": "items"}, headers=auth).raise_for_status()
        path = f"{base}/items/records/"
        for start in range(0, records, 200):
            items = [
                {"data": {"title": f"item {n}", "n": n}}
                for n in range(start, min(records, start + 200))
            ]
            client.post(path, json={"items": items}, headers=auth).raise_for_status()
        ids, cursor = [], None
        while True:
            page = client.get(
                path,
                params={"limit": "200", **({"cursor": cursor} if cursor else {})},
                headers=auth,
            )
            page.raise_for_status()
            ids += [row["id"] for row in page.json()["results"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "users.txt").write_text(f"1 {token} {email} {PASSWORD}\n")
    (data_dir / "pairs.txt").write_text("".join(f"1 {record_id}\n" for record_id in ids))
    return path


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}, {host.machine()}), {memory:.0f} GiB"


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: `make bench-cluster` installs it with apt.")
    started_at, load = datetime.now(UTC), os.getloadavg()
    rows, failed = [], False
    for count in args.instances:
        base = Path(tempfile.mkdtemp(prefix=f"platform-bench-cluster-{count}-"))
        base.chmod(0o755)
        cluster = Cluster(base, instances=count, threads=args.threads, extra_env=RATE_LIMITS)
        try:
            log(f"N = {count}: starting")
            cluster.up()
            path = seed(cluster.url, base / "data", args.records)
            env = {"BENCH_DATA": str(base / "data"), "RECORDS_PATH": path}
            cells = []
            for label, script in ROUTES:
                if args.warmup:
                    peer.wrk(cluster.url, script, env, args.concurrency, args.warmup)
                cell = peer.wrk(cluster.url, script, env, args.concurrency, args.seconds)
                failure = f", FAILED: {cell.detail}" if cell.bad else ""
                log(
                    f"N = {count} {label}: {cell.rps:,.0f} req/s, p50 {cell.p50:.1f} ms, "
                    f"p99 {cell.p99:.1f} ms{failure}"
                )
                failed |= bool(cell.bad)
                cells.append(cell)
            rows.append((count, cells))
        finally:
            cluster.destroy()

    command = "make bench-cluster" + (f' ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")
    lines = [
        "# Cluster benchmark: throughput at N app instances",
        "",
        f"`{command}`, {started_at:%Y-%m-%d %H:%M} UTC, {machine()}, load average "
        f"{load[0]:.2f} at the start. nginx (1 worker) in front of N instances of gunicorn "
        f"(1 gthread worker x {args.threads} threads) + uvicorn, PgBouncer (transaction "
        f"pooling), PostgreSQL primary + streaming standby (fsync on), Redis Sentinel; "
        f"`wrk -t2 -c{args.concurrency}`, {args.warmup} s warm-up + {args.seconds} s per cell, "
        f"one developer's org-wide collection of {args.records} records.",
        "",
        "| instances | "
        + " | ".join(f"{label}: req/s, p50, p99" for label, _ in ROUTES)
        + " | failed requests |",
        "|---:|" + "---:|" * len(ROUTES) + "---:|",
    ]
    for count, cells in rows:
        figures = [f"{c.rps:,.0f}, {c.p50:.1f} ms, {c.p99:.1f} ms" for c in cells]
        bad = sum(c.bad for c in cells)
        lines.append(f"| {count} | " + " | ".join(figures) + f" | {bad} |")
    if failed:
        lines += ["", "**FAILED**: responses that were not 2xx (or socket errors) void the run."]
    report = "\n".join(lines) + "\n"
    print("\n" + report, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    log(f"written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
