"""The edge of every request: input no layer behind it should have to survive, and the shape
of what API routes answer.

Before anything reads the request: a path or query string holding a NUL character or an
unpaired surrogate, or more than ``API_MAX_QUERY_PARAMS`` query parameters, is a 400 (JSON
bodies get the same rules in ``platform_site.parsers``). After the view: an API route's error
that is not already JSON (Django's 404 and 405, its DEBUG pages, a bare 416) is replaced by the
one error shape, in every settings module; and API responses carry ``Cache-Control:
no-store`` unless the view chose its own caching, so no browser or proxy keeps a caller's data.
"""

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent

from platform_site import errors
from platform_site.parsers import UnsafeValue, check_text

# Headers of a replaced error response that still mean something to the client.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Content-Range", "Vary")


def _bad_request(request, message: str):
    if errors.is_api_request(request):
        return errors.error_response(request, 400, "bad_request", message)
    return errors.handler400(request)


def _request_problem(request) -> str | None:
    try:
        check_text(request.path)
    except UnsafeValue:
        return "The URL path contains a NUL character or an unpaired surrogate."
    query = request.META.get("QUERY_STRING", "")
    if query:
        limit = settings.API_MAX_QUERY_PARAMS
        if query.count("&") >= limit:
            return f"At most {limit} query parameters."
        try:
            for key, values in request.GET.lists():
                check_text(key)
                for value in values:
                    check_text(value)
        except TooManyFieldsSent:
            return f"At most {limit} query parameters."
        except UnsafeValue:
            return "A query parameter contains a NUL character or an unpaired surrogate."
    return None


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _caller_is_authenticated(request) -> bool:
    if request.META.get("HTTP_AUTHORIZATION"):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class EdgeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = _request_problem(request)
        response = _bad_request(request, problem) if problem else self.get_response(request)
        if not errors.is_api_request(request):
            return response
        # A function's own answer (functions' invoke route) is the tenant's, passed through.
        own = getattr(response, "function_answer", False)
        if response.status_code >= 400 and not _is_json(response) and not own:
            replaced = errors.error_for_status(request, response.status_code)
            for header in _KEPT_HEADERS:
                if header in response:
                    replaced[header] = response[header]
            response = replaced
        if request.path.startswith("/api/") or _caller_is_authenticated(request):
            response.setdefault("Cache-Control", "no-store")
        return response
