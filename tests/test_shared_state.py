"""What several app instances share lives in PostgreSQL and Redis, never in one process.

Two long-lived Python processes stand for two app instances ("app-a", "app-b"): each has
Django set up with the same settings, database and Redis as the suite, and its own memory
(per-process copies, breakers, pending counts). A test sends each one a snippet to run
(``Instance.run``); HTTP requests go through each process's own middleware stack with
Django's test client, so a request on one instance and the next on the other share nothing
but the servers. What is checked across the two:

- a login on one is valid on the other; a logout on one is refused on the other at once;
- an API key revoked on one is refused at once by the other, whose per-process copies
  (``cache.entities``) of the key had just served a request: the epoch in Redis voids them;
- a rate limit is counted once for both (the 11th failed login is refused wherever it lands);
- a record written through one reaches a subscriber of its collection's group on the other
  (the channel layer), and presence tracked on one is seen on the other;
- hot keys and the latency histogram add up both processes' counts (the latter by its
  background flush, with no explicit flush);
- exactly one alert evaluation runs at a time (two concurrent rounds: one skips);
- session warming at start happens in one process per ``WARM_CLAIM_SECONDS``, not in each.

Not shared, on purpose: ``cache.entities`` copies are per process, believed for one epoch in
Redis (docs/performance.md). They are not warmed at start: a process cannot know which
entities its requests will need, any change voids every copy, and the first request per
entity per process reads it from PostgreSQL. The Studio's Redis client
latency figures are labelled as the serving process's own; its hit rate, request p99 and
series are the shared ones.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from authn.services import session_check
from cache import sessions as session_cache
from cache.client import get_redis
from observability import latency, tasks
from tests.factories import PASSWORD, UserFactory, owner_only_client_app

ROOT = Path(__file__).resolve().parent.parent

# The instance process: read one JSON line (a snippet), run it, answer one JSON line with
# the snippet's ``result`` (or the error), until stdin closes.
SERVER = r"""
import json, sys, traceback
import django
django.setup()
from django.test import Client
namespace = {"Client": Client}
for line in sys.stdin:
    try:
        exec(json.loads(line), namespace)
        answer = {"result": namespace.pop("result", None)}
    except Exception:
        answer = {"error": traceback.format_exc()}
    sys.stdout.write(json.dumps(answer, default=str) + "\n")
    sys.stdout.flush()
"""


class Instance:
    def __init__(self, name: str):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
            "SECRET_KEY": settings.SECRET_KEY,  # tokens made on one instance are valid on all
            "PLATFORM_INSTANCE": name,
            "REDIS_HOTKEY_SAMPLE_RATE": "1.0",
        }
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, code: str):
        self.process.stdin.write(json.dumps(code) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"{self.name} exited with {self.process.wait(timeout=10)}"
        answer = json.loads(line)
        assert "error" not in answer, f"{self.name}: {answer['error']}"
        return answer["result"]

    def request(
        self, method: str, path: str, *, token=None, body=None, ip=None, headers=None
    ) -> tuple[int, object, str]:
        """One HTTP request through this instance's middleware stack: (status, json, instance)."""
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        extra.update(headers or {})
        if ip:
            extra["REMOTE_ADDR"] = ip
        data = "" if method == "get" else f"data={json.dumps(body or {})!r}, "
        return self.run(
            f"response = Client().{method}({path!r}, {data}"
            f"content_type='application/json', **{extra!r})\n"
            "result = (response.status_code,"
            " response.json() if response.content and"
            " response['Content-Type'].startswith('application/json') else None,"
            " response.headers.get('X-Platform-Instance'))"
        )

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def instances(django_db_setup):
    """Started after the suite's migrate (which creates the app role they connect as)."""
    pair = [Instance("app-a"), Instance("app-b")]
    try:
        for instance in pair:
            assert instance.run("import os; result = os.getpid()") != os.getpid()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _ip() -> str:
    """A client address of the test's own (rate-limit buckets are per address)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.mark.timeout(120)
def test_login_on_one_instance_works_on_the_other_and_logout_is_refused_everywhere(
    committed, instances
):
    a, b = instances
    user = UserFactory()
    ip = _ip()
    status, tokens, served = a.request(
        "post", "/api/v1/auth/login/", body={"email": user.email, "password": PASSWORD}, ip=ip
    )
    assert (status, served) == (200, "app-a"), tokens
    access = tokens["access"]
    status, me, served = b.request("get", "/api/v1/auth/me/", token=access, ip=ip)
    assert (status, served) == (200, "app-b") and me["email"] == user.email
    assert a.request("get", "/api/v1/auth/me/", token=access, ip=ip)[0] == 200
    # Logout on app-a; app-b, which has just accepted the token (its copies are warm), refuses
    # it on the very next request.
    assert a.request("post", "/api/v1/auth/logout/", token=access, ip=ip)[0] == 204
    assert b.request("get", "/api/v1/auth/me/", token=access, ip=ip)[0] == 401
    assert a.request("get", "/api/v1/auth/me/", token=access, ip=ip)[0] == 401


@pytest.mark.timeout(120)
def test_a_rate_limit_is_counted_once_across_instances(instances):
    a, b = instances
    email, ip = f"{uuid.uuid4().hex}@example.com", _ip()
    limit, window = map(int, settings.AUTHN_RATE_LIMITS["login"]["account"].split("/"))
    # Fixed windows: start well before the current one ends, so all attempts fall in one.
    assert wait_for(lambda: time.time() % window < window - 30, timeout=40, interval=0.5)
    body = {"email": email, "password": "not the password"}
    statuses = [
        (a if n % 2 else b).request("post", "/api/v1/auth/login/", body=body, ip=ip)[0]
        for n in range(limit)
    ]
    assert statuses == [401] * limit  # each instance alone saw only half the limit
    assert b.request("post", "/api/v1/auth/login/", body=body, ip=ip)[0] == 429
    assert a.request("post", "/api/v1/auth/login/", body=body, ip=ip)[0] == 429
    # Counted in Redis, not in the processes' fallback windows (those are for Redis outages).
    assert a.run("from cache import ratelimit; result = len(ratelimit._local_counts)") == 0


@pytest.mark.timeout(120)
def test_realtime_fan_out_and_presence_reach_the_other_instance(committed, instances):
    """A record written through app-b's client API reaches a subscriber of its collection's
    group on app-a (the channel layer in Redis); presence tracked on one is seen on the other."""
    a, b = instances
    app = _client_app()
    channel = a.run(
        "from asgiref.sync import async_to_sync\n"
        "from channels.layers import get_channel_layer\n"
        "from realtime.groups import collection_group\n"
        "layer = get_channel_layer()\n"
        "channel = async_to_sync(layer.new_channel)()\n"
        f"async_to_sync(layer.group_add)(collection_group({app.org_id!r}, {app.collection_id!r}),"
        " channel)\n"
        "result = channel"
    )
    status, record, served = b.request(
        "post",
        "/client/v1/collections/todos/records/",
        body={"data": {"title": "written on b"}},
        headers={"HTTP_APIKEY": app.raw_key, "HTTP_AUTHORIZATION": f"Bearer {app.token}"},
    )
    assert (status, served) == (201, "app-b"), record
    message = a.run(
        "import asyncio\n"
        "async def receive():\n"
        f"    return await asyncio.wait_for(layer.receive({channel!r}), 30)\n"
        "result = asyncio.run(receive())"
    )
    assert record["id"] in json.dumps(message) and "written on b" in json.dumps(message)

    org = str(uuid.uuid4())
    a.run(
        "from realtime import presence\n"
        f"presence.track({org!r}, 'lobby', 'socket-on-a', user_id=1, username='ann', meta={{}})"
    )
    seen = b.run(f"from realtime import presence; result = presence.state({org!r}, 'lobby')")
    assert set(seen) == {"socket-on-a"} and seen["socket-on-a"]["username"] == "ann"
    a.run(f"presence.untrack({org!r}, 'lobby', 'socket-on-a')")
    assert b.run(f"result = presence.state({org!r}, 'lobby')") == {}


@pytest.mark.timeout(60)
def test_hot_keys_and_the_latency_histogram_add_up_both_instances(instances):
    a, b = instances
    key = f"org:{uuid.uuid4().hex}:hot"
    for instance, count in ((a, 3), (b, 4)):
        instance.run(
            f"from cache import hotkeys\nfor _ in range({count}): hotkeys.record_access({key!r})"
        )
    top = {row["key"]: row["estimated_count"] for row in _top_hotkeys()}
    assert top.get(key) == 7

    # A duration no request of the suite takes, so its bucket counts only these samples.
    seconds = 47.0
    bucket = latency.bucket_of(seconds * 1000)
    before = latency.histogram(window_minutes=2).get(bucket, 0)
    for instance, count in ((a, 2), (b, 5)):
        # No explicit flush: each process's background flusher sends them.
        instance.run(
            "from observability import latency\n"
            f"for _ in range({count}): latency.record({seconds}, rate=1.0)"
        )
    total = wait_for(
        lambda: latency.histogram(window_minutes=2).get(bucket, 0) - before == 7, timeout=30
    )
    assert total, latency.histogram(window_minutes=2)


def _top_hotkeys():
    from cache import hotkeys

    return hotkeys.top_hotkeys(n=50, window=60)


@pytest.mark.timeout(120)
def test_one_alert_evaluation_at_a_time_across_processes(committed, instances, monkeypatch):
    """Two rounds at once (this process and app-b, as two workers or two beats would run
    them): the one that finds the Redis lock taken skips; the lock has a TTL, and once the
    first round ends the next one evaluates."""
    _, b = instances
    redis = get_redis()
    redis.delete(tasks.EVALUATION_LOCK_KEY)
    entered, leave = threading.Event(), threading.Event()
    evaluations = []

    def slow_round(**kwargs):
        evaluations.append(time.time())
        entered.set()
        assert leave.wait(60)
        return {"fired": 0, "resolved": 0, "escalated": 0, "retried": 0}

    monkeypatch.setattr(tasks.alerts, "evaluate", slow_round)
    results = []
    first = threading.Thread(target=lambda: results.append(tasks.evaluate_alerts()))
    first.start()
    try:
        assert entered.wait(30)
        ttl = redis.ttl(tasks.EVALUATION_LOCK_KEY)
        assert 0 < ttl <= tasks.EVALUATION_TIME_LIMIT
        assert b.run("from observability import tasks; result = tasks.evaluate_alerts()") == {
            "skipped": True
        }
    finally:
        leave.set()
        first.join(60)
    assert len(evaluations) == 1 and "skipped" not in results[0]
    assert not redis.exists(tasks.EVALUATION_LOCK_KEY)  # released at the end of the round
    # The next round, on the other process, evaluates for real.
    counts = b.run("result = tasks.evaluate_alerts()")
    assert "skipped" not in counts and {"fired", "resolved", "escalated"} <= set(counts)


@pytest.mark.timeout(120)
def test_session_warming_at_start_runs_in_one_process_per_claim(committed, instances):
    a, b = instances
    UserFactory()
    session_cache._client().delete(session_cache.WARM_CLAIM_KEY)
    code = "from authn.services import session_check as c; result = c.sessions_warm_on_start()"
    assert isinstance(a.run(code), int)
    assert b.run(code) is None  # app-a warmed the shared cache moments ago
    ttl = session_cache._client().ttl(session_cache.WARM_CLAIM_KEY)
    assert 0 < ttl <= session_cache.WARM_CLAIM_SECONDS
    # A Redis that comes back empty has lost the claim with the sessions: warm again.
    session_cache._client().delete(session_cache.WARM_CLAIM_KEY)
    assert isinstance(b.run(code), int)
    assert session_check.sessions_warm_on_start() is None


@dataclass(frozen=True)
class ClientApp:
    org_id: str
    collection_id: str
    key_id: str
    raw_key: str
    token: str  # an end user's access token


def _client_app() -> ClientApp:
    """A project with a publishable key, a ``todos`` collection with owner rules and an end
    user, all committed."""
    from tenants import services as tenant_services
    from tenants.constants import Role
    from tenants.context import TenantContext, tenant_context

    user = UserFactory()
    org = tenant_services.org_create(actor=user, name="Shared", slug=f"s-{uuid.uuid4().hex[:8]}")
    with tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER)):
        owner = org.memberships.select_related("org", "user").get(user=user)
        project = tenant_services.project_create(membership=owner, name="app")
    world = owner_only_client_app(owner, project)
    return ClientApp(
        str(org.id), str(world.collection.id), str(world.key.pk), world.raw_key, world.token
    )


@pytest.mark.timeout(120)
def test_a_key_revoked_on_one_instance_is_refused_by_the_others_copies_at_once(
    committed, instances
):
    """The key, project and collection are per-process copies (``cache.entities``), valid for
    one epoch in Redis: a revocation committed on app-a sets a new one, so app-b's copy,
    warm from the request before, is not believed on its next request."""
    a, b = instances
    app = _client_app()
    key_id = app.key_id
    call = (
        "response = Client().get('/client/v1/collections/todos/records/',"
        f" HTTP_APIKEY={app.raw_key!r}, HTTP_AUTHORIZATION={'Bearer ' + app.token!r})\n"
        "result = response.status_code"
    )
    assert b.run(call) == 200
    assert b.run(call) == 200  # now served from app-b's copies
    a.run(
        "from tenants import services\n"
        "from tenants.context import TenantContext, tenant_context\n"
        "from tenants.models import ProjectKey\n"
        "with tenant_context(TenantContext(platform_admin=True)):\n"
        f"    key = ProjectKey.objects.select_related('project').get(pk={key_id!r})\n"
        "    owner = key.project.org.memberships.select_related('org', 'user').get()\n"
        "with tenant_context(TenantContext(org_id=owner.org_id, user_id=owner.user_id,"
        " role=owner.role)):\n"
        "    services.api_key_revoke(membership=owner, key=key)"
    )
    assert b.run(call) == 401
