"""The supervisor's lifecycle beyond one invocation: idle workers are stopped, and the demo
command ``make run`` calls deploys hello-world answering as the issue describes."""

import json
import os
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from functions import sandbox
from tenants.context import TenantContext, tenant_context
from tenants.models import Project
from tests.functions.conftest import RunningSupervisor, deno_processes

HELLO = "Deno.serve(() => new Response('hi'));"


def test_an_idle_worker_is_stopped_and_started_again_on_demand():
    base = Path(tempfile.mkdtemp(prefix="fnsup-idle-"))
    running = RunningSupervisor(base, "--idle-seconds", "0.5")
    try:
        transport = httpx.HTTPTransport(uds=running.socket)
        with httpx.Client(transport=transport, base_url="http://s", timeout=30) as client:
            client.put("/workers/k", json={"project": "p", "source": HELLO, "env": {}})
            assert client.post("/invoke/k", headers={"x-fn-invocation": "a"}).text == "hi"
            assert [w["alive"] for w in running.health()["workers"]] == [True]
            deadline = time.monotonic() + 30  # a bound for a slow machine, not a measurement
            while running.health()["workers"] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert running.health()["workers"] == []
            assert deno_processes(running.state_dir) == []
            # The spec is kept: the next invocation starts a worker again.
            assert client.post("/invoke/k", headers={"x-fn-invocation": "b"}).text == "hi"
            assert client.get("/invocations/b").json()["exit_reason"] == "ok"
    finally:
        running.stop()
    assert deno_processes(running.state_dir) == []


def test_the_demo_command_deploys_hello_world(org, user, client_for, supervisor, settings):
    settings.FUNCTIONS_SUPERVISOR_SOCKET = supervisor.socket
    call_command("functions_demo", org="org-a")
    call_command("functions_demo", org="org-a")  # idempotent: same content, same version
    with tenant_context(TenantContext(org_id=org.id)):
        project = Project.objects.get(org=org)
    url = f"/api/v1/orgs/org-a/projects/{project.pk}/functions/hello-world/"
    client = client_for(user)
    assert [v["number"] for v in client.get(url + "versions/").json()] == [1]
    response = client.post(url + "invoke/", data=json.dumps({"name": "Ada"}),
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200
    answer = json.loads(b"".join(response.streaming_content))
    response.close()
    assert answer == {"message": "Hello Ada", "user": None}


def test_an_end_user_caller_reaches_the_function(org, user, client_for, supervisor, settings):
    """What the client-app route will do: ``function_invoke`` with an end user's ``Caller``."""
    from functions import services

    settings.FUNCTIONS_SUPERVISOR_SOCKET = supervisor.socket
    call_command("functions_demo", org="org-a")
    with tenant_context(TenantContext(org_id=org.id)):
        project = Project.objects.get(org=org)
    answer = services.function_invoke(
        project=project,
        name="hello-world",
        request_data=services.FunctionRequest(body=b'{"name": "Bo"}'),
        caller=services.Caller(kind="end_user", end_user_id="u-123", key_id="pk-1"),
    )
    assert json.loads(answer.read()) == {"message": "Hello Bo", "user": "u-123"}
    assert answer.invocation.caller["kind"] == "end_user"
    assert answer.invocation.trigger == "http"


def test_a_warm_put_starts_the_worker_and_retires_the_functions_earlier_one(supervisor):
    """A deploy's PUT: the new version's worker is ready before the first invocation, and the
    version it replaces does not idle on."""
    transport = httpx.HTTPTransport(uds=supervisor.socket)

    def alive() -> dict:
        return {w["key"]: w["alive"] for w in supervisor.health()["workers"]
                if w["key"].startswith("warm-")}  # fmt: skip

    def wait_for(expected: dict) -> None:
        deadline = time.monotonic() + 30  # a bound for a slow machine, not a measurement
        while alive() != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive() == expected

    with httpx.Client(transport=transport, base_url="http://s", timeout=30) as client:
        spec = {"project": "warm", "function": "f-1", "source": HELLO, "env": {}, "warm": True}
        client.put("/workers/warm-1", json=spec)
        wait_for({"warm-1": True})
        client.put("/workers/warm-2", json={**spec, "source": HELLO.replace("hi", "hi 2")})
        wait_for({"warm-2": True})
        answer = client.post("/invoke/warm-2", headers={"x-fn-invocation": "w2"})
        assert answer.text == "hi 2"
        assert [w["starts"] for w in supervisor.health()["workers"] if w["key"] == "warm-2"] == [1]
        # The retired key is gone with its spec: the platform PUTs it again if it needs it.
        assert client.post("/invoke/warm-1", headers={"x-fn-invocation": "w1"}).status_code == 428


def test_the_workers_tree_weighs_more_than_one_task(supervisor):
    """cgroup v1 weighs a group as one task: the workers' parent gets a weight per CPU, so
    under load they are not starved together (their own quotas stay the limit)."""
    if not supervisor.cgroups:
        pytest.skip("cgroups are not writable here: prlimit's fallback has no CPU weight")
    shares = Path("/sys/fs/cgroup/cpu") / sandbox.GROUP_PARENT / "cpu.shares"
    assert int(shares.read_text()) == sandbox.PARENT_CPU_SHARES_PER_CPU * os.cpu_count()
