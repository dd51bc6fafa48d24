"""Functions benchmark: cold start, warm latency (p50/p99) and invocations/s of hello-world.

    make bench-functions                 # or: make bench-functions ARGS="--seconds 20"

Starts the functions supervisor (bubblewrap + Deno, cgroups when writable) and the platform in
its production shape (gunicorn with uvicorn workers: ``_stack.PlatformServer``), deploys the
demo's hello-world in a fresh org, then measures two paths:

* api: POST /api/v1/orgs/<org>/projects/<p>/functions/hello-world/invoke/ with the owner's
  token (authentication, tenant context, the invocation row, the supervisor, the sandbox);
* supervisor: POST /invoke/<key> on the supervisor's Unix socket (the sandbox alone).

Cold start: the first invocation of a version no worker runs yet (``--cold`` new versions).
Through the API that is the first invocation right after its deploy, which already told the
supervisor to start the worker (it may still be starting); on the socket, a worker nobody
started before.
Warm: ``--requests`` sequential invocations. Throughput: ``--concurrency`` clients for
``--seconds`` (at most the project's concurrency cap, so nothing is refused on purpose).
Prints a Markdown table. Any non-2xx answer fails the run (exit 1).
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("LOG_LEVEL", "WARNING")

BASE = Path(tempfile.mkdtemp(prefix="bench-functions-"))
SOCKET = str(BASE / "supervisor.sock")
os.environ["FUNCTIONS_SUPERVISOR_SOCKET"] = SOCKET

import django  # noqa: E402

django.setup()

import _stack  # noqa: E402
import httpx  # noqa: E402
from django.db import transaction  # noqa: E402

from functions import services as function_services  # noqa: E402
from functions.management.commands.functions_demo import HELLO_WORLD  # noqa: E402
from tenants import services  # noqa: E402
from tenants.context import TenantContext, set_tenant_context  # noqa: E402
from tests.factories import UserFactory  # noqa: E402
from tests.tokens import access_token  # noqa: E402

FAILURES: list[str] = []


def start_supervisor(concurrency: int) -> subprocess.Popen:
    log = open(BASE / "supervisor.log", "wb")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "functions.supervisor", "--socket", SOCKET,
         "--state-dir", str(BASE / "state"), "--project-concurrency", str(concurrency)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    with httpx.Client(transport=httpx.HTTPTransport(uds=SOCKET)) as client:
        while True:
            try:
                health = client.get("http://s/health").json()
                print(f"supervisor up, cgroups: {health['cgroups']}", file=sys.stderr)
                return process
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit((BASE / "supervisor.log").read_text())
                time.sleep(0.1)


def seed() -> dict:
    owner = UserFactory()
    org = services.org_create(actor=owner, name="bench", slug="bench-fn")
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        membership = org.memberships.get()
        project = services.project_create(membership=membership, name="bench")
    return {"owner": owner, "org": org, "membership": membership, "project": project}


def deploy(world: dict, source: str):
    with transaction.atomic():
        set_tenant_context(
            TenantContext(org_id=world["org"].id, user_id=world["owner"].pk, role="owner")
        )
        function, version, _ = function_services.function_deploy(
            membership=world["membership"],
            project=world["project"],
            name="hello-world",
            source=source,
        )
    return function, version


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def check(response, where: str) -> None:
    if not 200 <= response.status_code < 300:
        FAILURES.append(f"{where}: {response.status_code} {response.text[:200]}")


async def throughput(make_client, send, concurrency: int, seconds: float) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal done
        async with make_client() as client:
            while time.monotonic() < stop:
                check(await send(client), "throughput")
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    supervisor = start_supervisor(args.concurrency)
    world = seed()
    token = access_token(world["owner"])
    project = world["project"]
    path = f"/api/v1/orgs/bench-fn/projects/{project.id}/functions/hello-world/invoke/"
    server = _stack.PlatformServer(
        workers=2, env={"FUNCTIONS_SUPERVISOR_SOCKET": SOCKET}, log_path=BASE / "server.log"
    ).start()
    body = json.dumps({"name": "bench"})
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
        **_stack.PROXY_HEADERS,
    }
    rows = []
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:

            def api_call() -> float:
                started = time.perf_counter()
                response = api.post(path, content=body)
                elapsed = (time.perf_counter() - started) * 1000
                check(response, "api")
                if response.status_code == 200 and response.json()["message"] != "Hello bench":
                    FAILURES.append(f"api: unexpected answer {response.text[:200]}")
                return elapsed

            cold = []
            for i in range(args.cold):
                deploy(world, HELLO_WORLD + f"\n// build {i} {secrets.token_hex(4)}\n")
                cold.append(api_call())
            warm = [api_call() for _ in range(args.requests)]
        function, version = deploy(world, HELLO_WORLD)  # the version the API runs now

        async def api_send(client):
            return await client.post(path, content=body)

        api_rate = asyncio.run(
            throughput(
                lambda: httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30),
                api_send,
                args.concurrency,
                args.seconds,
            )
        )
        rows.append(("api (gunicorn, 2 workers)", cold, warm, api_rate))

        # The supervisor alone: its own worker keys, the same source.
        transport = httpx.HTTPTransport(uds=SOCKET)
        with httpx.Client(transport=transport, base_url="http://s", timeout=30) as sup:
            cold_sup = []
            for i in range(args.cold):
                key = f"bench-cold-{i}"
                sup.put(f"/workers/{key}", json={"project": "bench", "source": HELLO_WORLD})
                started = time.perf_counter()
                check(sup.post(f"/invoke/{key}", content=body), "supervisor cold")
                cold_sup.append((time.perf_counter() - started) * 1000)
            sup.put("/workers/bench-warm", json={"project": "bench", "source": HELLO_WORLD})
            check(sup.post("/invoke/bench-warm", content=body), "supervisor warm-up")
            warm_sup = []
            for _ in range(args.requests):
                started = time.perf_counter()
                check(sup.post("/invoke/bench-warm", content=body), "supervisor warm")
                warm_sup.append((time.perf_counter() - started) * 1000)

        async def sup_send(client):
            return await client.post("/invoke/bench-warm", content=body)

        sup_rate = asyncio.run(
            throughput(
                lambda: httpx.AsyncClient(
                    transport=httpx.AsyncHTTPTransport(uds=SOCKET), base_url="http://s"
                ),
                sup_send,
                args.concurrency,
                args.seconds,
            )
        )
        rows.append(("supervisor socket only", cold_sup, warm_sup, sup_rate))
    finally:
        server.stop()
        os.killpg(supervisor.pid, signal.SIGTERM)
        supervisor.wait(timeout=30)

    print(f"\n{platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"command: make bench-functions ARGS=\"--cold {args.cold} --requests {args.requests}"
          f" --seconds {args.seconds:g} --concurrency {args.concurrency}\"\n")  # fmt: skip
    print("| path | cold start median (max) ms | warm p50 ms | warm p99 ms | invocations/s |")
    print("|---|---:|---:|---:|---:|")
    for name, cold, warm, rate in rows:
        print(
            f"| {name} | {statistics.median(cold):.0f} ({max(cold):.0f}) | "
            f"{percentile(warm, 0.5):.1f} | {percentile(warm, 0.99):.1f} | {rate:.0f} |"
        )
    if FAILURES:
        print(f"\n{len(FAILURES)} non-2xx answers, first: {FAILURES[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
