"""supabase-js's ``functions.invoke`` against ``/functions/v1/<name>``, in both URL forms.

This module serves the platform with a functions supervisor of its own (``compat_server`` is
overridden here): the server's ``FUNCTIONS_SUPERVISOR_SOCKET`` is that supervisor's, and the
supervisor's ``--platform-url`` is the server, so a function's ``platform.fetch`` reaches the
client API as its caller. The demo project gets hello-world (``functions_demo``) and three
functions of this test: whoami (its caller, and the to-dos it reads through the platform),
teapot (an error status of its own) and leak-token (its invocation's token, to show it refused
afterwards).
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from functions import services
from tenants.context import TenantContext, tenant_context
from tenants.models import Membership, Project
from tests.compat.conftest import URL_FORMS
from tests.functions.conftest import RunningSupervisor
from tests.servers import AppServer

WHOAMI = """
Deno.serve(async (req: Request) => {
  const caller = JSON.parse(req.headers.get("x-platform-caller") ?? "{}");
  const todos = await platform.fetch("/client/v1/collections/todos/records/");
  const body = todos.ok ? await todos.json() : { results: [] };
  const url = new URL(req.url);
  return Response.json({
    role: caller.role,
    end_user_id: caller.end_user_id,
    titles: body.results.map((r: { data: { title: string } }) => r.data.title).sort(),
    method: req.method,
    path: url.pathname + url.search,
  });
});
"""
TEAPOT = 'Deno.serve(() => Response.json({ error: "short and stout" }, { status: 418 }));'
LEAK_TOKEN = """
Deno.serve(async (req: Request) => {
  const during = await platform.fetch("/client/v1/collections/todos/records/");
  await during.body?.cancel();
  return Response.json({ during: during.status, authorization: req.headers.get("authorization") });
});
"""


@pytest.fixture(scope="module")
def functions_stack(tmp_path_factory):
    base = Path(tmp_path_factory.mktemp("compat-functions"))
    server = AppServer(
        env={"FUNCTIONS_SUPERVISOR_SOCKET": str(base / "functions" / "supervisor.sock")},
        log_path=base / "server.log",
    )
    supervisor = RunningSupervisor(base / "functions", "--platform-url", server.url)
    try:
        server.start()
        yield server, supervisor
    finally:
        server.stop()
        supervisor.stop()


@pytest.fixture(scope="module")
def compat_server(functions_stack):
    return functions_stack[0]


@pytest.fixture
def deployed(demo, functions_stack, settings):
    settings.FUNCTIONS_SUPERVISOR_SOCKET = functions_stack[1].socket
    call_command("functions_demo")
    with tenant_context(TenantContext(platform_admin=True)):
        project = Project.objects.get(ref=demo.ref)
        owner = Membership.objects.filter(org_id=project.org_id, role="owner").first()
    context = TenantContext(org_id=project.org_id, user_id=owner.user_id, role=owner.role)
    for name, source in (("whoami", WHOAMI), ("teapot", TEAPOT), ("leak-token", LEAK_TOKEN)):
        with tenant_context(context):
            services.function_deploy(membership=owner, project=project, name=name, source=source)
    return demo


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_supabase_js_invokes_functions_in_both_url_forms(deployed):
    for form in URL_FORMS:
        deployed.node("functions.test.mjs", form)
