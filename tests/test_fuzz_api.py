"""Fuzzing every operation of the OpenAPI schema against a live server (schemathesis).

A uvicorn process serves the platform in the test settings and in the local ones (DEBUG on,
as ``make run``). For each role (anonymous, viewer, developer, admin, owner) a fresh org holds
a project with a collection and a record, a bucket and an object, a job, a webhook and a
function (a real functions supervisor runs it); every
operation then gets ``FUZZ_MAX_EXAMPLES`` valid and as many invalid requests: anonymous ones
with generated paths, members' naming the real objects (so they reach the views, not the
404 of a random org), and their first two sent again with a NUL and with an unpaired
surrogate in every query value and body string. No response may be a 5xx, every error must
be the one JSON error shape, and no error may show a traceback, a source file or SQL.

The server gets a Redis database of its own as Celery broker, emptied afterwards: queued
webhook deliveries and test notifications to generated URLs must never reach a worker.
"""

import os
import re
from dataclasses import dataclass, field

import httpx
import pytest
import redis
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.factories import UserFactory
from tests.functions.conftest import RunningSupervisor
from tests.servers import AppServer
from tests.tokens import access_token

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "3"))
ROLES = ("anonymous", "viewer", "developer", "admin", "owner")
BROKER_DB = 13
LEAKS = re.compile(
    r"Traceback \(most recent call last\)|File \"/|site-packages|\.py\", line|"
    r"psycopg|django\.db|duplicate key value|violates .* constraint|"
    r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bDELETE FROM\b|<html|<!DOCTYPE",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class World:
    """One org's worth of real objects, and its members by role."""

    users: dict
    paths: dict[str, str]
    findings: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def make_world(url: str, role: str, n: int) -> World:
    owner = UserFactory()
    members = {r: UserFactory() for r in ("viewer", "developer", "admin")}
    http = httpx.Client(
        base_url=url + "/api/v1",
        headers={"Authorization": f"Bearer {access_token(owner)}"},
        timeout=60,  # a deploy runs deno check in the sandbox: seconds on a loaded machine
    )
    slug = f"fuzz-{role}-{n}"

    def post(path, **kwargs):
        response = http.post(path, **kwargs)
        assert response.status_code in (201, 202), (path, response.text)
        return response.json() if response.content else None

    post("/orgs/", json={"name": "Fuzz", "slug": slug})
    for member_role, user in members.items():
        post(f"/orgs/{slug}/members/", json={"email": user.email, "role": member_role})
    project = post(f"/orgs/{slug}/projects/", json={"name": "app"})["id"]
    base = f"/orgs/{slug}/projects/{project}"
    post(f"{base}/collections/", json={"name": "items", "json_schema": {"type": "object"}})
    record = post(f"{base}/collections/items/records/", json={"data": {"n": 1}})["id"]
    post(f"{base}/buckets/", json={"name": "docs"})
    post(f"{base}/buckets/docs/objects/", data={"key": "a.txt"}, files={"file": b"hello"})
    # Loopback is allowed for the test and local settings; port 9 (discard) has no listener,
    # and the server's own broker has no worker, so nothing is ever delivered.
    hook = {"url": "http://127.0.0.1:9/fuzz"}
    job = post(f"{base}/jobs/", json={"name": "nightly", "schedule": "0 3 * * *", **hook})["id"]
    webhook = post(f"{base}/webhooks/", json={"events": ["insert"], **hook})["id"]
    # Answers 200 to any body (the fuzzed invocations reach a real sandboxed function).
    hello = "Deno.serve(async (req) => Response.json({ got: (await req.text()).length }));"
    post(f"{base}/functions/", json={"name": "hello", "source": hello})
    http.close()
    paths = {
        "org": slug,
        "project": project,
        "collection": "items",
        "record": record,
        "bucket": "docs",
        "key": "a.txt",
        "job": job,
        "webhook": webhook,
        "function": "hello",
        "number": "1",
        "user_id": str(members["viewer"].pk),
    }
    return World(users={"owner": owner, **members}, paths=paths)


def problems(response) -> list[str]:
    found = []
    if response.status_code >= 500:
        found.append(f"status {response.status_code}")
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]  # lowercase keys, lists
        if not content_type.startswith("application/json"):
            found.append("error is not JSON")
        else:
            try:
                error = response.json()["error"]
                assert error["status"] == response.status_code and error["code"]
            except (ValueError, KeyError, TypeError, AssertionError):
                found.append("error is not in the error shape")
        if LEAKS.search(response.text):
            found.append("error shows internals")
    return found


def spiked(value, poison: str):
    """``value`` with ``poison`` appended to every string in it (keys too)."""
    if isinstance(value, str):
        return value + poison
    if isinstance(value, dict):
        return {spiked(k, poison): spiked(v, poison) for k, v in value.items()}
    if isinstance(value, list):
        return [spiked(v, poison) for v in value]
    return value


def fuzz_operation(operation, world: World, role: str, url: str) -> None:
    """Valid and invalid requests; member roles name the world's real objects, and their
    first requests are sent again with a NUL / an unpaired surrogate in every string."""
    # A fresh session for each operation: a fuzzed logout must not silence the rest.
    token = access_token(world.users[role]) if role in world.users else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    spikes = {"left": 2}

    def send(case) -> None:
        try:
            response = case.call(base_url=url, headers=headers, timeout=30)
        except Exception as exc:  # a request the client cannot encode is not a finding
            if "Connection" in type(exc).__name__ or "Timeout" in type(exc).__name__:
                world.findings.append(f"{role} {operation.label}: {exc!r}")
            return
        world.statuses.append(response.status_code)
        for problem in problems(response):
            world.findings.append(
                f"{role} {case.method} {response.request.url} -> {response.status_code}: "
                f"{problem}: {response.text[:300]!r}"
            )

    @settings(
        max_examples=MAX_EXAMPLES * 2,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        if token:
            for name in case.path_parameters or {}:
                if name in world.paths:
                    case.path_parameters[name] = world.paths[name]
        send(case)
        if token and spikes["left"]:
            spikes["left"] -= 1
            query, body = case.query, case.body
            for poison in ("\x00", "\ud800"):
                # A query string is UTF-8 and cannot carry a lone surrogate: NUL only there.
                case.query = spiked(query, "\x00") if query else query
                case.body = spiked(body, poison) if isinstance(body, dict | list) else body
                if case.query != query or case.body is not body:
                    send(case)

    run()


@pytest.fixture
def own_broker():
    broker = django_settings.REDIS_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    yield broker
    redis.Redis.from_url(broker).flushdb()


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("settings_module", ["test", "local"])
def test_no_operation_answers_5xx_or_shows_internals(
    committed, own_broker, settings_module, tmp_path
):
    log = tmp_path / "server.log"
    functions = RunningSupervisor(tmp_path / "functions")
    server = AppServer(
        {
            "DJANGO_SETTINGS_MODULE": f"platform_site.settings.{settings_module}",
            "CELERY_BROKER_URL": own_broker,
            "FUNCTIONS_SUPERVISOR_SOCKET": functions.socket,
            "AUTHN_WARM_SESSIONS_ON_STARTUP": "false",
            "AUTHN_EMAIL_ASYNC": "false",
        },
        log_path=log,
    ).start()
    findings: list[str] = []
    try:
        schema = schemathesis.openapi.from_url(server.url + "/api/schema/")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 50
        for n, role in enumerate(ROLES):
            world = make_world(server.url, role, n)
            # Deletions last, so the org and its objects live through the other operations.
            for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
                fuzz_operation(operation, world, role, server.url)
            findings += world.findings
            # The requests reached the views: members got answers other than 401/404.
            if role != "anonymous":
                assert sum(200 <= status < 300 for status in world.statuses) > 5, role
    finally:
        server.stop()
        functions.stop()
    # The server's log says why (tracebacks stay there, never in a response).
    tracebacks = [line for line in log.read_text().splitlines() if "Error" in line][-20:]
    assert not findings, "\n".join(findings[:40] + ["--- server log:"] + tracebacks)
