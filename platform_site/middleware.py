"""The edge of every request: input no layer behind it should have to survive, and the shape
of what API routes answer.

Before anything reads the request: a path or query string holding a NUL character or an
unpaired surrogate, or more than ``API_MAX_QUERY_PARAMS`` query parameters, is a 400 (JSON
bodies get the same rules in ``platform_site.parsers``). After the view: an API route's error
that is not already JSON (Django's 404 and 405, its DEBUG pages, a bare 416) is replaced by the
one error shape, in every settings module (an unreachable database's is the 503 of
``errors.database_unavailable_response``, DEBUG or not); and API responses carry ``Cache-Control:
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
        unavailable = getattr(request, "database_unavailable", None)
        if unavailable is not None and response.status_code == 500:
            # DEBUG answers an unhandled error with its own page, not handler500: the same 503.
            response = errors.database_unavailable_response(request, unavailable)
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


def needs_browser_middleware(request) -> bool:
    """False for requests that cannot use sessions, Django's session auth, messages or static
    files: a bearer-authenticated API call (the token and not a cookie says who calls, and no
    API view reads a session), a client app's call, and the liveness probe. Everything
    else (the Studio, the API docs, a cookie-authenticated API call) takes the full stack."""
    path = request.path
    if path == "/health/live":
        return False
    if path.startswith(("/client/", "/p/")):
        return False  # client apps: a project key and an end user's token, never a cookie
    if path.startswith("/api/"):
        scheme, _, _ = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        return scheme.lower() != "bearer"
    return True


class BrowserOnly:
    """Mixed in before a middleware class: the middleware runs only when
    ``needs_browser_middleware``; other requests go straight on. The result is a subclass of
    the original, so Django's checks (the admin's need for sessions, auth, messages) still
    see it. Sync only: under ASGI, Django runs it in the thread of the sync stack around it."""

    sync_capable = True
    async_capable = False

    def __call__(self, request):
        if needs_browser_middleware(request):
            return super().__call__(request)
        return self.get_response(request)


def _browser_only(dotted: str) -> type:
    from django.utils.module_loading import import_string

    original = import_string(dotted)
    hooks = [h for h in ("process_view", "process_exception", "process_template_response")
             if hasattr(original, h)]  # fmt: skip
    if hooks:  # Django would call these for every request, skipped or not
        raise TypeError(f"{dotted} has {hooks}: BrowserOnly only makes __call__ conditional")
    attrs = {"__module__": __name__, "__doc__": f"``{dotted}``, browser requests only."}
    return type(original.__name__, (BrowserOnly, original), attrs)


WhiteNoiseMiddleware = _browser_only("whitenoise.middleware.WhiteNoiseMiddleware")
SessionMiddleware = _browser_only("django.contrib.sessions.middleware.SessionMiddleware")
AuthenticationMiddleware = _browser_only("django.contrib.auth.middleware.AuthenticationMiddleware")
MessageMiddleware = _browser_only("django.contrib.messages.middleware.MessageMiddleware")
