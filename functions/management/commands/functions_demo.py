"""Deploy the demo function ``hello-world`` in the demo org's project (idempotent)."""

import time

from django.core.management.base import BaseCommand

from functions import client, services
from tenants.context import TenantContext, tenant_context
from tenants.models import Membership, Organization, Project

HELLO_WORLD = """\
// The demo function: POST {"name": "..."} -> {"message": "Hello ...", "user": <end user or null>}
Deno.serve(async (req: Request) => {
  const body = await req.json().catch(() => ({}));
  const caller = JSON.parse(req.headers.get("x-platform-caller") ?? "{}");
  const name = typeof body.name === "string" ? body.name : "world";
  return Response.json({ message: `Hello ${name}`, user: caller.end_user_id ?? null });
});
"""


class Command(BaseCommand):
    help = "Deploy hello-world in the demo project (waits for the functions supervisor)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", default="demo")
        parser.add_argument("--wait", type=float, default=30.0)

    def handle(self, *args, **options) -> None:
        deadline = time.monotonic() + options["wait"]
        while True:
            try:
                client.health()
                break
            except client.SupervisorUnavailable:
                if time.monotonic() > deadline:
                    self.stderr.write("functions supervisor not answering: hello-world skipped")
                    return
                time.sleep(0.3)
        with tenant_context(TenantContext(platform_admin=True)):
            org = Organization.objects.get(slug=options["org"])
            membership = Membership.objects.filter(org=org, role="owner").first()
            project = Project.objects.filter(org=org).order_by("created_at").first()
        if project is None:
            with tenant_context(TenantContext(org_id=org.id, user_id=membership.user_id)):
                from tenants import services as tenant_services

                project = tenant_services.project_create(membership=membership, name="demo")
        with tenant_context(
            TenantContext(org_id=org.id, user_id=membership.user_id, role=membership.role)
        ):
            function, version, created = services.function_deploy(
                membership=membership, project=project, name="hello-world", source=HELLO_WORLD
            )
        state = "deployed" if created else "already deployed"
        self.stdout.write(
            f"Function hello-world v{version.number} {state}: POST /api/v1/orgs/{org.slug}"
            f"/projects/{project.pk}/functions/hello-world/invoke/"
        )
