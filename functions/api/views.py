"""Functions of a project, built on ``tenants.api.base.ProjectView``: deploy, configure,
versions and rollback, invocations, and the developers' test route that invokes one."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from functions import selectors, services
from functions.api import serializers as s
from platform_site.errors import error_response
from tenants import constants
from tenants.api.base import ProjectView, found, not_found, valid

PERMS = {
    "get": constants.VIEW_DATA,
    "post": constants.MANAGE_FUNCTIONS,
    "patch": constants.MANAGE_FUNCTIONS,
    "delete": constants.MANAGE_FUNCTIONS,
}


class DeployRefused(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "deno check refused the source."
    default_code = "deploy_refused"


class FunctionsUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The functions supervisor is not running."
    default_code = "functions_unavailable"


def _refused(exc: services.DeployRefused) -> APIException:
    return DeployRefused(detail=exc.message)


class FunctionScopedView(ProjectView):
    required_perms = PERMS
    api_errors = {
        **ProjectView.api_errors,
        services.DeployRefused: _refused,
        services.FunctionsUnavailable: lambda exc: FunctionsUnavailable(),
        services.FunctionNotFound: not_found,
    }

    def function(self):
        return found(selectors.function_get(project=self.project(), name=self.kwargs["function"]))


class FunctionListView(FunctionScopedView):
    @extend_schema(operation_id="functions_list", responses=s.FunctionSerializer(many=True))
    def get(self, request, org, project):
        functions = selectors.function_list(project=self.project())
        return Response(s.FunctionSerializer(functions, many=True).data)

    @extend_schema(
        request=s.DeploySerializer,
        responses={
            201: s.FunctionSerializer,
            200: OpenApiResponse(s.FunctionSerializer, description="Same content: re-activated"),
            503: OpenApiResponse(description="The functions supervisor is down (Error)"),
        },
    )
    def post(self, request, org, project):
        """Deploy: a new immutable version, active once ``deno check`` passed in the sandbox.
        A refused source is a 400 with the compiler's message; the active version stays."""
        data = valid(s.DeploySerializer, request.data)
        function, _, created = services.function_deploy(
            membership=request.membership, project=self.project(), **data
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.FunctionSerializer(function).data, status=code)


class FunctionDetailView(FunctionScopedView):
    @extend_schema(responses=s.FunctionSerializer)
    def get(self, request, org, project, function):
        return Response(s.FunctionSerializer(self.function()).data)

    @extend_schema(request=s.ConfigSerializer, responses=s.FunctionSerializer)
    def patch(self, request, org, project, function):
        data = valid(s.ConfigSerializer, request.data, partial=True)
        updated = services.function_update(
            membership=request.membership, function=self.function(), **data
        )
        return Response(s.FunctionSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, function):
        services.function_delete(membership=request.membership, function=self.function())
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionListView(FunctionScopedView):
    @extend_schema(operation_id="function_versions_list", responses=s.VersionSerializer(many=True))
    def get(self, request, org, project, function):
        versions = selectors.version_list(function=self.function())
        return Response(s.VersionSerializer(versions, many=True).data)


class VersionDetailView(FunctionScopedView):
    @extend_schema(responses=s.VersionDetailSerializer)
    def get(self, request, org, project, function, number):
        version = found(selectors.version_get(function=self.function(), number=int(number)))
        return Response(s.VersionDetailSerializer(version).data)


class RollbackView(FunctionScopedView):
    @extend_schema(request=s.RollbackSerializer, responses=s.FunctionSerializer)
    def post(self, request, org, project, function):
        """Make an earlier (or later) version the active one again."""
        data = valid(s.RollbackSerializer, request.data)
        updated = services.function_rollback(
            membership=request.membership, function=self.function(), number=data["version"]
        )
        return Response(s.FunctionSerializer(updated).data)


class InvocationListView(FunctionScopedView):
    @extend_schema(
        operation_id="function_invocations_list", responses=s.InvocationSerializer(many=True)
    )
    def get(self, request, org, project, function):
        invocations = selectors.invocation_list(function=self.function())
        return Response(s.InvocationSerializer(invocations, many=True).data)


# exit reason -> (status, message) when the function gave no answer of its own.
FAILURES = {
    "timeout": (504, "The function did not answer in time and was stopped."),
    "out_of_memory": (502, "The function ran out of memory and was stopped."),
    "crashed": (502, "The function's worker stopped before answering."),
    "startup_failed": (502, "The function failed to start."),
    "concurrency_limit": (429, "Too many invocations of this project's functions at once."),
    "request_too_large": (413, "The request body is too large for a function."),
    "error": (502, "The function threw an error."),
    "permission_denied": (502, "The function was refused by the sandbox."),
}
MAX_FAILURE_BODY = 16 * 1024
# A function's headers that would act on the platform's origin rather than on its answer.
TENANT_HEADERS_DROPPED = {
    "content-encoding", "connection", "set-cookie", "strict-transport-security",
    "content-security-policy", "x-content-type-options", "access-control-allow-origin",
    "access-control-allow-credentials", "access-control-allow-headers",
    "access-control-allow-methods", "access-control-expose-headers", "x-frame-options",
    "cross-origin-opener-policy", "cross-origin-resource-policy", "x-request-id",
}  # fmt: skip


def answer_response(request, answer: services.FunctionResponse):
    """The HTTP response of an invocation: the function's own answer, streamed, or the error
    (in the platform's shape) of an invocation that gave none."""
    if answer.exit_reason in FAILURES:
        code, message = FAILURES[answer.exit_reason]
        record = answer.drain(MAX_FAILURE_BODY)
        details = {
            "invocation_id": answer.invocation_id,
            "exit_reason": answer.exit_reason,
            "stderr": (record.get("stderr") or "")[-2000:],
        }
        response = error_response(request, code, f"function_{answer.exit_reason}", message, details)
        response["X-Function-Invocation"] = answer.invocation_id
        # The row is written once the response is closed: after the request's
        # transaction, which a 5xx rolls back.
        response._resource_closers.append(answer.close)
        return response
    response = StreamingHttpResponse(answer, status=answer.status)
    for name, value in answer.headers:
        if name.lower() not in TENANT_HEADERS_DROPPED:
            response[name] = value
    # Tenant content on the platform's own origin: never a document that runs scripts or
    # is sniffed into one.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Function-Invocation"] = answer.invocation_id
    response.function_answer = True
    return response


INVOKE_RESPONSES = {
    (200, "*/*"): OpenApiResponse(description="The function's own answer, streamed"),
    429: OpenApiResponse(description="Project concurrency cap (Error)"),
    502: OpenApiResponse(description="Threw, refused, out of memory, crashed (Error)"),
    503: OpenApiResponse(description="The functions supervisor is down (Error)"),
    504: OpenApiResponse(description="Timed out (Error)"),
}


class InvokeView(FunctionScopedView):
    """A developer's test run of the function's active version (trigger "test")."""

    @extend_schema(request={"*/*": bytes}, responses=INVOKE_RESPONSES)
    def post(self, request, org, project, function):
        answer = services.function_invoke(
            project=self.project(),
            name=function,
            request_data=services.FunctionRequest(
                method="POST",
                path="/" + function,
                headers=dict(request.headers),
                body=request.body,
                request_id=getattr(request, "request_id", "") or "",
            ),
            caller=services.Caller(kind="developer", user_id=request.user.pk),
            trigger=services.Trigger.TEST,
        )
        return answer_response(request, answer)
