"""The functions page (Django's test client) with the real supervisor (bubblewrap + Deno):
deploy (deno check's refusal shown), versions and roll back, a test invocation with its
stdout/stderr in the invocation log; read-only without MANAGE_FUNCTIONS."""

import json
import re
import tempfile
from pathlib import Path

import pytest

from functions.models import Invocation
from tenants.constants import ROLE_PERMISSIONS, USE_STUDIO, Role
from tenants.context import TenantContext, tenant_context
from tests.functions.conftest import RunningSupervisor

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SOURCE = """Deno.serve(async (req: Request) => {
  const body = await req.json().catch(() => ({}));
  console.log("got", JSON.stringify(body));
  console.error("a warning");
  return Response.json({ hello: body.name, version: VERSION });
});
const VERSION = 1;
"""


@pytest.fixture(scope="module")
def running_supervisor():
    running = RunningSupervisor(Path(tempfile.mkdtemp(prefix="fnsup-studio-")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _supervisor(running_supervisor, settings):
    settings.FUNCTIONS_SUPERVISOR_SOCKET = running_supervisor.socket


def functions(project, *parts) -> str:
    return f"/studio/o/org-a/p/{project.id}/functions/" + "".join(f"{p}/" for p in parts)


def test_deploy_invoke_log_and_roll_back(client, user, org, project_a):
    client.force_login(user)
    listing = client.get(functions(project_a))
    assert listing.status_code == 200 and "Deno.serve" in listing.content.decode()
    broken = "const n: number = 'not a number';\nDeno.serve(() => new Response(String(n)));"
    refused = client.post(functions(project_a), {"name": "hello", "source": broken})
    assert refused.status_code == 400
    message = refused.content.decode().split('id="deploy-refused"', 1)[1]
    assert "TS2322" in message and "not assignable to type" in message
    deployed = client.post(functions(project_a), {"name": "hello", "source": SOURCE})
    assert deployed.status_code == 303 and deployed["Location"] == functions(project_a, "hello")

    page = functions(project_a, "hello")
    ran = client.post(page, {"action": "invoke", "body": json.dumps({"name": "studio"})})
    assert ran.status_code == 200
    body = ran.content.decode()
    answer = re.search(r'<pre id="test-body">(.*?)</pre>', body, re.S).group(1)
    assert json.loads(answer.replace("&quot;", '"')) == {"hello": "studio", "version": 1}
    assert "got {&quot;name&quot;:&quot;studio&quot;}" in body  # its stdout, on the page
    assert 'id="test-stderr"' in body and "a warning" in body
    with tenant_context(TenantContext(org_id=org.id)):
        invocation = Invocation.objects.get()
    assert invocation.trigger == "test" and invocation.caller["kind"] == "developer"
    assert "a warning" in invocation.stderr
    log = client.get(page).content.decode()
    assert 'id="invocations"' in log and "Test run" in log and "got {" in log

    v2 = SOURCE.replace("VERSION = 1", "VERSION = 2")
    assert client.post(page, {"action": "deploy", "source": v2}).status_code == 303
    versions = client.get(page).content.decode()
    assert "v2 (active)" in versions and "Make active" in versions
    rolled = client.post(page, {"action": "rollback", "version": "1"})
    assert rolled.status_code == 303
    again = client.post(page, {"action": "invoke", "body": "{}"}).content.decode()
    assert "&quot;version&quot;:1" in again.replace(": ", ":")
    bad = client.post(page, {"action": "deploy", "source": "Deno.serve(() => {"})
    assert bad.status_code == 400 and "main.ts" in bad.content.decode()
    assert client.get(functions(project_a, "nope")).status_code == 404


def test_a_viewer_reads_versions_and_log_but_changes_nothing(
    client, add_member, project_a, membership_a, monkeypatch
):
    from functions import services
    from tests.datastore.conftest import as_member

    as_member(membership_a)
    services.function_deploy(membership=membership_a, project=project_a, name="hi", source=SOURCE)
    # Whatever the map grants today, a viewer given the Studio reads and changes nothing.
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.VIEWER, ROLE_PERMISSIONS[Role.VIEWER] | {USE_STUDIO})
    client.force_login(add_member(Role.VIEWER).user)
    for url in (functions(project_a), functions(project_a, "hi")):
        body = client.get(url).content.decode()
        assert 'id="read-only"' in body
        assert 'id="deploy"' not in body and 'id="invoke"' not in body, url
    assert "Deno.serve" in client.get(functions(project_a, "hi")).content.decode()
    for data in ({"action": "invoke"}, {"action": "deploy", "source": SOURCE}):
        assert client.post(functions(project_a, "hi"), data).status_code == 403
    assert client.post(functions(project_a), {"name": "x", "source": SOURCE}).status_code == 403
