"""Client-app requests: the project named by the key, the end user by its token.

Runs before the developer token middleware: on client paths a bearer token is a key or an
end user's token, never a developer's (that middleware leaves client paths alone). A
``/p/<ref>/...`` path is served by the same routes as the path without it, with the key
required to be one of that project's (the ref stays on the request as ``client_ref``). The
keyless paths (``identity.KEYLESS``: signed and public storage URLs) go on without a client
when no key is sent.
"""

from django.contrib.auth.models import AnonymousUser

from endusers.identity import (
    ClientAuthFailed,
    identify,
    is_client_path,
    is_keyless,
    split_ref,
)
from platform_site.errors import error_response


class ClientIdentityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client = None
        ref, rest = split_ref(request.path_info)
        request.client_ref = ref
        if ref is not None:
            if not is_client_path(rest):
                return error_response(request, 404, "not_found", "Not found.")
            request.path_info = rest
        request.client_route = is_client_path(request.path_info)
        if not request.client_route:
            return self.get_response(request)
        # Django's session auth is skipped on client routes: nobody is a developer here.
        request.user = AnonymousUser()
        try:
            request.client = identify(request.META, ref=ref)
        except ClientAuthFailed as exc:
            request.client_refused_project = exc.project
            if exc.code == "api_key_required" and is_keyless(request.method, request.path_info):
                return self.get_response(request)  # no client: the view checks the token
            return error_response(
                request,
                401,
                exc.code,
                exc.message,
                headers={"WWW-Authenticate": 'Bearer realm="client"'},
            )
        return self.get_response(request)
