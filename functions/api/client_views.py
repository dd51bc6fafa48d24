"""Client apps invoke functions at ``/functions/v1/<name>`` (also ``/p/<ref>/functions/v1/...``),
the path supabase-js's ``functions.invoke`` calls.

The caller is the client identity (``request.client``: the key's project, and the end user of
the access token, if any); any method, the request's headers (but its credentials) and body
reach the function, and its answer streams back as it is. Through ``platform.fetch`` the
function then calls the client API as that caller (``functions.tokens``).
"""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException

from endusers.api.base import ClientView
from functions import services
from functions.api.views import INVOKE_RESPONSES, FunctionsUnavailable, answer_response
from tenants.api.base import not_found

# 401 (no key, an invalid key or token) and 404 (no such function) in the Error shape are
# added to every operation by platform_site.errors.add_error_responses.
RESPONSES = INVOKE_RESPONSES


def _unavailable(exc: Exception) -> APIException:
    return FunctionsUnavailable()


class ClientInvokeView(ClientView):
    api_errors = {
        **ClientView.api_errors,
        services.FunctionNotFound: not_found,
        services.FunctionsUnavailable: _unavailable,
    }

    def invoke(self, request, name: str, rest: str = ""):
        query = request.META.get("QUERY_STRING", "")
        answer = services.function_invoke(
            project=self.client.project,
            name=name,
            request_data=services.FunctionRequest(
                method=request.method,
                path=f"/{name}{'/' + rest if rest else ''}{'?' + query if query else ''}",
                headers=dict(request.headers),
                body=request.body,
                request_id=getattr(request, "request_id", "") or "",
            ),
            caller=services.caller_of_client(self.client),
        )
        return answer_response(request, answer)


BODY_METHODS = ("post", "put", "patch")


def _handler(method: str, operation_id: str):
    @extend_schema(
        operation_id=operation_id,
        request={"*/*": bytes} if method in BODY_METHODS else None,
        responses=RESPONSES,
        description="Invoke the function's active version (supabase-js `functions.invoke`).",
    )
    def handle(self, request, name, rest=""):
        return self.invoke(request, name, rest)

    handle.__name__ = method
    return handle


class ClientInvokePathView(ClientInvokeView):
    """``/functions/v1/<name>/<path>``: the same, with the function's own sub-path."""


for _method in ("get", "post", "put", "patch", "delete"):
    setattr(ClientInvokeView, _method, _handler(_method, f"client_function_{_method}"))
    setattr(ClientInvokePathView, _method, _handler(_method, f"client_function_path_{_method}"))
