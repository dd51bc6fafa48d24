"""Hostile functions against the real sandbox (bubblewrap, cgroups when writable, Deno's
permissions): each is stopped with the named error, another project's function keeps
answering meanwhile, and nothing of theirs is left running."""

import json
import os
import tempfile
import threading
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings

from functions.models import Invocation
from tenants.context import TenantContext, tenant_context
from tests.functions.conftest import RunningSupervisor, deno_processes

pytestmark = pytest.mark.slow

HOSTILE = """
Deno.serve(async (req: Request) => {
  const { attack, port } = await req.json();
  if (attack === "loop") { while (true) {} }
  if (attack === "memory") {
    const chunks = [];
    for (let i = 0; i < 1024; i++) chunks.push(new Uint8Array(1024 * 1024).fill(i % 255));
    return new Response(String(chunks.length));
  }
  if (attack === "spawn") {
    const sh = { args: ["-c", "sleep 60"] };
    for (let i = 0; i < 1000; i++) new Deno.Command("/bin/sh", sh).spawn();
  }
  if (attack === "passwd") return new Response(Deno.readTextFileSync("/etc/passwd"));
  if (attack === "env") return Response.json(Deno.env.toObject());
  if (attack === "socket") {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return new Response("connected");
  }
  if (attack === "write") Deno.writeTextFileSync("/function/main.ts", "taken over");
  if (attack === "tmp") {
    Deno.writeTextFileSync("/tmp/scratch.txt", "mine");
    return new Response(Deno.readTextFileSync("/tmp/scratch.txt"));
  }
  return new Response("calm");
});
"""
HELLO = "Deno.serve(() => Response.json({ ok: true }));"


@pytest.fixture
def hostile_url(org, user, client_for, functions_url):
    client = client_for(user)
    created = client.post(
        functions_url,
        {"name": "hostile", "source": HOSTILE, "timeout_seconds": 2},
        format="json",
    )
    assert created.status_code == 201, created.content
    return f"{functions_url}hostile/invoke/"


def attack(client, url, name, **extra):
    response = client.post(
        url, data=json.dumps({"attack": name, **extra}), content_type="application/json"
    )
    if getattr(response, "streaming", False):
        response.content_bytes = b"".join(response.streaming_content)
        response.close()
    return response


def last_invocation(org) -> Invocation:
    with tenant_context(TenantContext(org_id=org.id)):
        return Invocation.objects.order_by("-created_at").first()


def test_an_infinite_loop_times_out_and_the_function_serves_again(
    org, user, client_for, hostile_url, supervisor
):
    client = client_for(user)
    response = attack(client, hostile_url, "loop")
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "function_timeout"
    row = last_invocation(org)
    assert row.exit_reason == "timeout" and row.cpu_ms > 100
    # The looping worker was killed; the next invocation gets a fresh one.
    calm = attack(client, hostile_url, "none")
    assert (calm.status_code, calm.content_bytes) == (200, b"calm")


def test_allocating_a_gibibyte_is_out_of_memory(org, user, client_for, hostile_url):
    response = attack(client_for(user), hostile_url, "memory")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "function_out_of_memory"
    assert last_invocation(org).exit_reason == "out_of_memory"


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("spawn", 'Requires run access to "/bin/sh"'),
        ("passwd", 'Requires read access to "/etc/passwd"'),
        ("env", "Requires env access"),
        ("write", 'Requires write access to "/function/main.ts"'),
    ],
)
def test_processes_host_files_env_and_writes_outside_tmp_are_refused(
    org, user, client_for, hostile_url, name, refusal
):
    response = attack(client_for(user), hostile_url, name)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "function_permission_denied"
    assert refusal in error["details"]["stderr"]
    assert last_invocation(org).exit_reason == "permission_denied"


def test_a_socket_to_postgresql_is_refused(org, user, client_for, hostile_url):
    port = django_settings.DATABASES["default"]["PORT"]
    response = attack(client_for(user), hostile_url, "socket", port=int(port))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "function_permission_denied"
    assert f'Requires net access to "127.0.0.1:{port}"' in error["details"]["stderr"]


def test_tmp_is_private_and_writable(org, user, client_for, hostile_url):
    response = attack(client_for(user), hostile_url, "tmp")
    assert (response.status_code, response.content_bytes) == (200, b"mine")


def test_another_projects_function_answers_while_one_loops(
    org, user, client_for, hostile_url, supervisor
):
    client = client_for(user)
    other = client.post("/api/v1/orgs/org-a/projects/", {"name": "calm"}, "json").json()
    other_url = f"/api/v1/orgs/org-a/projects/{other['id']}/functions/"
    assert client.post(other_url, {"name": "hello", "source": HELLO}, "json").status_code == 201
    looping: dict = {}

    def loop() -> None:
        looping["status"] = attack(client_for(user), hostile_url, "loop").status_code

    thread = threading.Thread(target=loop)
    thread.start()
    answers = []
    while thread.is_alive() or not answers:
        response = client.post(f"{other_url}hello/invoke/", {}, "json")
        answers.append((response.status_code, b"".join(response.streaming_content)))
        response.close()
    thread.join()
    assert looping["status"] == 504
    assert len(answers) >= 2 and set(answers) == {(200, b'{"ok":true}')}


def test_a_projects_concurrency_is_capped(org, user, client_for, functions_url):
    client = client_for(user)
    slow = """Deno.serve(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return new Response("late");
    });"""
    assert client.post(functions_url, {"name": "slow", "source": slow}, "json").status_code == 201
    statuses = []

    def call() -> None:
        response = client_for(user).post(f"{functions_url}slow/invoke/", {}, "json")
        statuses.append(response.status_code)
        response.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The supervisor of this test set lets 2 invocations of one project be in flight.
    assert sorted(statuses).count(200) == 2 and statuses.count(429) == 2


def test_killed_workers_leave_no_process(org, user, client_for, hostile_url, supervisor):
    client = client_for(user)
    assert attack(client, hostile_url, "none").status_code == 200
    pids = [w["pid"] for w in supervisor.health()["workers"] if w["alive"]]
    assert pids
    assert attack(client, hostile_url, "memory").status_code == 502
    assert attack(client, hostile_url, "loop").status_code == 504
    alive = {w["pid"] for w in supervisor.health()["workers"] if w["alive"]}
    gone = [pid for pid in pids if pid not in alive]
    assert gone, "the killed worker is still listed"
    for pid in gone:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_without_cgroups_the_fallback_still_stops_a_gibibyte():
    """``--cgroups off`` (what a host without a writable /sys/fs/cgroup gets): prlimit and V8's
    heap limit. The allocation ends as out of memory, the supervisor says so in /health."""
    base = Path(tempfile.mkdtemp(prefix="fnsup-fallback-"))
    running = RunningSupervisor(base, "--cgroups", "off")
    try:
        assert running.cgroups is False
        transport = httpx.HTTPTransport(uds=running.socket)
        with httpx.Client(transport=transport, base_url="http://s", timeout=30) as client:
            client.put("/workers/k", json={"project": "p", "source": HOSTILE, "env": {}})
            response = client.post(
                "/invoke/k",
                headers={"x-fn-invocation": "fallback-1", "x-fn-timeout": "20"},
                content=json.dumps({"attack": "memory"}),
            )
            assert response.headers["x-fn-exit"] == "out_of_memory", response.text
            record = client.get("/invocations/fallback-1").json()
            assert record["exit_reason"] == "out_of_memory"
    finally:
        running.stop()
    assert deno_processes(running.state_dir) == []
    assert os.path.exists(base / "supervisor.log")
