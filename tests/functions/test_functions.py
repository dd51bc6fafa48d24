"""Functions through the API, run by the real supervisor (bubblewrap + Deno): deploy checked
by ``deno check`` in the sandbox, versions and rollback, write-only env, invocations over the
test route with their rows and logs, record-change and cron triggers, metrics."""

import json

import pytest
from prometheus_client import REGISTRY

from authn.models import AuditEvent
from compute.tasks import run_scheduled_job
from functions import tasks
from functions.models import Invocation
from tenants.context import TenantContext, tenant_context
from tests.factories import UserFactory
from tests.functions.conftest import deno_processes

ECHO = """
Deno.serve(async (req: Request) => {
  const body = await req.json().catch(() => ({}));
  console.log("got", JSON.stringify(body));
  console.error("a warning");
  return Response.json({
    message: `Hello ${body.name}`,
    caller: JSON.parse(req.headers.get("x-platform-caller") ?? "null"),
    trigger: req.headers.get("x-platform-trigger"),
    auth: req.headers.get("authorization"),
    custom: req.headers.get("x-custom"),
  });
});
"""


def deploy(client, url, name="echo", source=ECHO, **extra):
    return client.post(url, {"name": name, "source": source, **extra}, format="json")


def invoke(client, url, name="echo", body=None, **headers):
    return client.post(
        f"{url}{name}/invoke/",
        data=json.dumps(body or {}),
        content_type="application/json",
        **headers,
    )


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def invocations(org) -> list[Invocation]:
    with tenant_context(TenantContext(org_id=org.id)):
        return list(Invocation.objects.select_related("version").order_by("created_at"))


def test_deploy_then_invoke_answers_and_leaves_an_invocation_row(
    org, user, client_for, functions_url
):
    client = client_for(user)
    created = deploy(client, functions_url)
    assert created.status_code == 201, created.content
    assert created.json()["active_version"]["number"] == 1
    response = invoke(client, functions_url, body={"name": "Ada"}, HTTP_X_CUSTOM="kept",
                      HTTP_X_REQUEST_ID="fn-req-1")  # fmt: skip
    assert response.status_code == 200
    answer = json.loads(body_of(response))
    response.close()
    assert answer["message"] == "Hello Ada"
    assert answer["caller"] == {
        "kind": "developer", "user_id": user.pk, "end_user_id": None, "key_id": None,
        "app_roles": [], "role": "service_role",
    }  # fmt: skip
    assert answer["trigger"] == "test" and answer["custom"] == "kept"
    # The developer's platform token never reaches tenant code: the invocation's own does.
    assert answer["auth"].startswith("Bearer fninv_")
    (row,) = invocations(org)
    assert (row.trigger, row.status, row.exit_reason, row.version.number) == ("test", 200, "ok", 1)
    assert row.stdout.strip() == 'got {"name":"Ada"}' and row.stderr.strip() == "a warning"
    assert row.request_id == "fn-req-1" and row.duration_ms > 0 and row.peak_memory_bytes > 0
    assert response["X-Function-Invocation"] == str(row.pk)
    listed = client.get(f"{functions_url}echo/invocations/").json()
    assert [i["exit_reason"] for i in listed] == ["ok"]


def test_export_default_fetch_and_streamed_answers_pass_through(
    org, user, client_for, functions_url
):
    client = client_for(user)
    source = """
export default {
  fetch(req: Request): Response {
    const stream = new ReadableStream({
      start(controller) {
        const encoder = new TextEncoder();
        for (const part of ["one,", "two,", "three"]) controller.enqueue(encoder.encode(part));
        controller.close();
      },
    });
    const headers = {
      "content-type": "text/plain", "x-fn-own": "yes", "set-cookie": "sessionid=stolen",
      "access-control-allow-origin": "*",
    };
    return new Response(stream, { status: 404, headers });
  },
};
"""
    assert deploy(client, functions_url, name="stream", source=source).status_code == 201
    response = invoke(client, functions_url, name="stream")
    assert response.streaming
    # The function's own 404 and its text body are its answer, not a platform error.
    assert (response.status_code, response["x-fn-own"]) == (404, "yes")
    # Headers that would act on the platform's origin are not the function's to set.
    assert "Set-Cookie" not in response and "Access-Control-Allow-Origin" not in response
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert body_of(response) == b"one,two,three"
    response.close()
    assert [r.exit_reason for r in invocations(org)] == ["ok"]


def test_a_bad_deploy_is_refused_with_the_compilers_message_and_the_old_version_serves(
    org, user, client_for, functions_url
):
    client = client_for(user)
    assert deploy(client, functions_url).status_code == 201
    broken = "const n: number = 'not a number';\nDeno.serve(() => new Response(String(n)));"
    refused = deploy(client, functions_url, source=broken)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "deploy_refused"
    assert "TS2322" in error["message"] and "not assignable to type 'number'" in error["message"]
    syntax = deploy(client, functions_url, source="Deno.serve(() => {")
    assert syntax.status_code == 400 and "main.ts" in syntax.json()["error"]["message"]
    # Still version 1, still answering.
    assert [v["number"] for v in client.get(f"{functions_url}echo/versions/").json()] == [1]
    response = invoke(client, functions_url, body={"name": "still"})
    assert json.loads(body_of(response))["message"] == "Hello still"
    response.close()


def test_versions_are_content_hashed_and_rollback_works(org, user, client_for, functions_url):
    client = client_for(user)
    v1 = "Deno.serve(() => new Response('one'));"
    v2 = "Deno.serve(() => new Response('two'));"
    assert deploy(client, functions_url, name="ver", source=v1).status_code == 201
    assert deploy(client, functions_url, name="ver", source=v2).status_code == 201

    def answer() -> bytes:
        response = invoke(client, functions_url, name="ver")
        content = body_of(response)
        response.close()
        return content

    assert answer() == b"two"
    versions = client.get(f"{functions_url}ver/versions/").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[1]["source_hash"] == __import__("hashlib").sha256(v1.encode()).hexdigest()
    assert client.get(f"{functions_url}ver/versions/1/").json()["source"] == v1
    rolled = client.post(f"{functions_url}ver/rollback/", {"version": 1}, format="json")
    assert rolled.status_code == 200 and rolled.json()["active_version"]["number"] == 1
    assert answer() == b"one"
    # The same content again is the existing version made active, not a third one.
    again = deploy(client, functions_url, name="ver", source=v2)
    assert again.status_code == 200 and again.json()["active_version"]["number"] == 2
    assert answer() == b"two"
    missing = client.post(f"{functions_url}ver/rollback/", {"version": 9}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()["error"]["details"]
    with tenant_context(TenantContext(org_id=org.id)):
        audits = list(
            AuditEvent.objects.filter(action__startswith="function_").values_list("action")
        )
    assert sorted(a for (a,) in audits) == ["function_deploy"] * 3 + ["function_rollback"]


def test_env_is_write_only_and_reaches_only_its_function(
    org, user, client_for, functions_url, supervisor
):
    client = client_for(user)
    source = """
Deno.serve(() => {
  let others = "refused";
  try { others = String(Deno.env.get("DATABASE_URL")); } catch (e) { others = (e as Error).name; }
  return Response.json({ token: Deno.env.get("API_TOKEN"), others });
});
"""
    created = deploy(client, functions_url, name="env", source=source,
                     env={"API_TOKEN": "s3cr3t-value"})  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["env_names"] == ["API_TOKEN"]
    for response in (created, client.get(functions_url), client.get(f"{functions_url}env/")):
        assert b"s3cr3t-value" not in response.content
    with tenant_context(TenantContext(org_id=org.id)):
        audit = AuditEvent.objects.get(action="function_deploy")
    assert "s3cr3t-value" not in json.dumps(audit.metadata)
    response = invoke(client, functions_url, name="env")
    assert json.loads(body_of(response)) == {"token": "s3cr3t-value", "others": "NotCapable"}
    response.close()
    # No process's command line carries the value (bubblewrap reads it from a descriptor).
    workers = deno_processes(supervisor.state_dir)
    assert workers and not [w for w in workers if "s3cr3t-value" in w]
    # A new value restarts the worker with it.
    changed = client.patch(f"{functions_url}env/", {"env": {"API_TOKEN": "next"}}, format="json")
    assert changed.status_code == 200 and b"next" not in changed.content
    response = invoke(client, functions_url, name="env")
    assert json.loads(body_of(response))["token"] == "next"
    response.close()


def test_bad_input_is_400_and_viewers_cannot_deploy(org, user, client_for, functions_url):
    client = client_for(user)
    for body in (
        {"name": "Bad Name", "source": ECHO},
        {"name": "ok", "source": ""},
        {"name": "ok", "source": ECHO, "env": {"lower": "x"}},
        {"name": "ok", "source": ECHO, "env": {"DENO_DIR": "/etc"}},
        {"name": "ok", "source": ECHO, "timeout_seconds": 61},
        {"name": "ok", "source": ECHO, "record_events": ["explode"]},
    ):
        response = client.post(functions_url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["code"] == "invalid"
    viewer = UserFactory()
    from tenants import services as tenant_services

    with tenant_context(TenantContext(org_id=org.id, user_id=user.pk)):
        membership = org.memberships.get(user=user)
        tenant_services.member_add(membership=membership, email=viewer.email, role="viewer")
    refused = deploy(client_for(viewer), functions_url)
    assert refused.status_code == 403
    assert client_for(viewer).get(functions_url).status_code == 200
    unknown = invoke(client, functions_url, name="nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_a_record_insert_triggers_the_function(org, user, client_for, project, functions_url,
                                               monkeypatch):  # fmt: skip
    client = client_for(user)
    base = f"/api/v1/orgs/org-a/projects/{project['id']}"
    assert client.post(f"{base}/collections/", {"name": "orders"}, "json").status_code == 201
    source = """
Deno.serve(async (req: Request) => {
  const event = await req.json();
  console.log("record", event.type, event.collection, event.record.id, event.record.data.total);
  return new Response("ok");
});
"""
    created = deploy(client, functions_url, name="on-order", source=source,
                     record_events=["insert"], record_collection="orders")  # fmt: skip
    assert created.status_code == 201, created.content
    queued = []
    monkeypatch.setattr(tasks.run_function, "delay", lambda *a, **kw: queued.append((a, kw)))
    record = client.post(f"{base}/collections/orders/records/", {"data": {"total": 7}}, "json",
                         HTTP_X_REQUEST_ID="order-7")  # fmt: skip
    assert record.status_code == 201
    assert len(queued) == 1
    args, kwargs = queued[0]
    assert tasks.run_function.apply(args=args, kwargs=kwargs).get() == "ok"
    (row,) = invocations(org)
    assert (row.trigger, row.exit_reason, row.caller["kind"]) == ("record", "ok", "service")
    assert row.stdout.strip() == f"record insert orders {record.json()['id']} 7"
    assert row.request_id == "order-7"
    # An update is not what it listens to.
    client.patch(f"{base}/collections/orders/records/{record.json()['id']}/",
                 {"data": {"total": 8}}, "json")  # fmt: skip
    assert len(queued) == 1


def test_a_cron_job_runs_a_function(org, user, client_for, project, functions_url):
    client = client_for(user)
    source = """
Deno.serve(async (req: Request) => {
  const event = await req.json();
  console.log("tick", event.job.name, event.payload.kind);
  return new Response("done");
});
"""
    assert deploy(client, functions_url, name="nightly", source=source).status_code == 201
    jobs_url = f"/api/v1/orgs/org-a/projects/{project['id']}/jobs/"
    job = client.post(jobs_url, {"name": "n", "schedule": "0 3 * * *", "target": "function",
                                 "function_name": "nightly", "payload": {"kind": "digest"}},
                      format="json")  # fmt: skip
    assert job.status_code == 201, job.content
    assert job.json()["target"] == "function" and job.json()["url"] == ""
    job_id = job.json()["id"]
    assert run_scheduled_job.apply(args=[job_id, str(org.id), project["id"]]).get() is True
    (row,) = invocations(org)
    assert (row.trigger, row.exit_reason) == ("cron", "ok")
    assert row.stdout.strip() == "tick n digest"
    runs = client.get(f"{jobs_url}{job_id}/runs/").json()
    assert [(r["succeeded"], r["response_status"]) for r in runs] == [(True, 200)]
    no_function = client.post(jobs_url, {"name": "m", "schedule": "0 3 * * *",
                                         "target": "function"}, format="json")  # fmt: skip
    assert no_function.status_code == 400


def test_invocations_are_counted_in_prometheus(org, user, client_for, functions_url):
    client = client_for(user)

    def count(reason: str) -> float:
        value = REGISTRY.get_sample_value(
            "platform_function_invocations_total", {"trigger": "test", "exit_reason": reason}
        )
        return value or 0.0

    before_ok, before_error = count("ok"), count("error")
    assert deploy(client, functions_url).status_code == 201
    invoke(client, functions_url).close()
    thrower = "Deno.serve(() => { throw new RangeError('nope'); });"
    assert deploy(client, functions_url, name="thrower", source=thrower).status_code == 201
    failed = invoke(client, functions_url, name="thrower")
    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["code"] == "function_error" and "RangeError: nope" in error["details"]["stderr"]
    assert (count("ok"), count("error")) == (before_ok + 1, before_error + 1)


def test_no_supervisor_is_a_503(org, user, client_for, functions_url, settings, tmp_path):
    client = client_for(user)
    settings.FUNCTIONS_SUPERVISOR_SOCKET = str(tmp_path / "nothing.sock")
    response = deploy(client, functions_url)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "functions_unavailable"


@pytest.mark.parametrize("role", ["developer"])
def test_developers_may_manage_functions(role):
    from tenants.constants import MANAGE_FUNCTIONS, ROLE_PERMISSIONS

    assert MANAGE_FUNCTIONS in ROLE_PERMISSIONS[role]
    assert MANAGE_FUNCTIONS not in ROLE_PERMISSIONS["viewer"]


def test_an_invocation_costs_a_fixed_number_of_queries(
    org, user, client_for, functions_url, django_assert_max_num_queries
):
    client = client_for(user)
    assert deploy(client, functions_url).status_code == 201
    invoke(client, functions_url).close()  # the worker is warm, the session cached
    # Committed, as in production: user, begin, user context, membership, org context, the
    # project, the function with its active version, commit; then the invocation row in a
    # transaction of its own after the response: begin, context, insert, commit.
    with django_assert_max_num_queries(12):
        response = invoke(client, functions_url, body={"name": "count"})
        assert json.loads(body_of(response))["message"] == "Hello count"
        response.close()
