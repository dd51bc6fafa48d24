"""The functions page: a project's functions, their versions, deploy (with ``deno check``'s
refusal shown), roll back, a test invocation, and the invocation log with stdout and stderr.

Writes go through ``functions.services`` with the signed-in member's membership (which checks
``MANAGE_FUNCTIONS`` again and writes the audit row); a test run goes through
``function_invoke`` as the API's test route does (trigger "test", caller "developer"), and its
invocation row is written in this request's transaction. Reading needs ``VIEW_DATA``, as in
the API (the log holds what functions printed).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from functions import selectors, services
from functions.constants import ExitReason, Trigger
from studio.projects import ProjectPage, _page, _render
from tenants.constants import MANAGE_FUNCTIONS, VIEW_DATA
from tenants.replicas import lag_tolerant

LOGGED = 50
SHOWN_BODY = 16 * 1024
STARTER = """Deno.serve(async (req: Request) => {
  const body = await req.json().catch(() => ({}));
  console.log("got", JSON.stringify(body));
  return Response.json({ hello: body.name ?? "world" });
});
"""


def _url(name: str, page: ProjectPage, *args) -> str:
    return reverse(f"studio:{name}", args=[page.org.slug, page.project.id, *args])


def _deploy(request, page: ProjectPage, name: str, source: str) -> str | None:
    """Deploy; None when it went through, else what refused it (deno check's message)."""
    try:
        _, version, created = services.function_deploy(
            membership=page.membership, project=page.project, name=name, source=source
        )
    except services.DeployRefused as exc:
        return exc.message
    except ValidationError as exc:
        return " ".join(exc.messages)
    except services.FunctionsUnavailable:
        return "The functions supervisor is not running: nothing was deployed."
    state = "deployed" if created else "is the same source: made active again"
    messages.success(request, f"{name} v{version.number} {state}.")
    return None


@lag_tolerant
def index(request, org, project):
    page = _page(request, org, project, read=VIEW_DATA, write=MANAGE_FUNCTIONS)
    name, source, refused = "", STARTER, None
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        source = request.POST.get("source", "")
        refused = _deploy(request, page, name, source)
        if refused is None:
            return HttpResponseRedirect(_url("project-function", page, name), status=303)
    return _render(
        request,
        "studio/project/functions.html",
        page,
        "Functions",
        status=400 if refused else 200,
        functions=selectors.function_list(project=page.project),
        name=name,
        source=source,
        refused=refused,
    )


@lag_tolerant
def detail(request, org, project, function):
    page = _page(request, org, project, read=VIEW_DATA, write=MANAGE_FUNCTIONS)
    found = selectors.function_get(project=page.project, name=function)
    if found is None:
        raise Http404("No such function.")
    active = found.active_version
    source = active.source if active else ""
    refused, test = None, None
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "deploy":
        source = request.POST.get("source", "")
        refused = _deploy(request, page, found.name, source)
    elif action == "rollback":
        number = request.POST.get("version", "")
        try:
            services.function_rollback(
                membership=page.membership,
                function=found,
                number=int(number) if number.isdigit() else 0,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Version {number} is active.")
    elif action == "invoke":
        test = _invoke(request, page, found)
    elif action is not None:
        messages.error(request, "Unknown action.")
    if action in ("deploy", "rollback") and refused is None:
        return HttpResponseRedirect(_url("project-function", page, found.name), status=303)
    return _render(
        request,
        "studio/project/function.html",
        page,
        f"Function {found.name}",
        status=400 if refused else 200,
        function=found,
        versions=selectors.version_list(function=found),
        invocations=selectors.invocation_list(function=found, limit=LOGGED),
        source=source,
        refused=refused,
        test=test,
        test_body=request.POST.get("body", "") if test else "",
    )


def _invoke(request, page: ProjectPage, function) -> dict:
    """A test run of the active version; what it answered and printed."""
    try:
        answer = services.function_invoke(
            project=page.project,
            name=function.name,
            request_data=services.FunctionRequest(
                method="POST",
                path="/" + function.name,
                headers={"content-type": "application/json"},
                body=request.POST.get("body", "").encode(),
                request_id=getattr(request, "request_id", "") or "",
            ),
            caller=services.Caller(kind="developer", user_id=request.user.pk),
            trigger=Trigger.TEST,
        )
    except services.FunctionNotFound:
        return {"error": "No version of this function is active."}
    except services.FunctionsUnavailable:
        return {"error": "The functions supervisor is not running."}
    if answer.exit_reason != ExitReason.OK:
        answer.drain(SHOWN_BODY)
        body = b""
    else:
        body = answer.read()
    answer.close()
    invocation = answer.invocation
    return {
        "status": answer.status,
        "exit_reason": answer.exit_reason,
        "body": body[:SHOWN_BODY].decode(errors="replace"),
        "invocation": invocation,
    }
