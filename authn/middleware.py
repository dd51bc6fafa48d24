"""Bearer-token authentication as middleware, so the tenant middleware after it knows the user.

Every bearer request goes through ``authn.services.session_check.authenticate_access_token``
(the JWT, then its live session, then an active user), the same check websockets run. DRF
reads the result through ``authn.authentication.MiddlewareTokenAuthentication``. The
middleware also binds the request's client IP, user agent and id for the audit trail.
"""

import structlog
from django.contrib.auth.models import AnonymousUser

from authn import request_meta
from authn.services.session_check import AuthFailed, authenticate_access_token

INVALID = "Invalid or expired token."


def bearer_token(meta) -> str | None:
    """The bearer credential of ``request.META`` (or headers in that form): None without the
    Bearer scheme, "" when the scheme carries nothing."""
    scheme, _, token = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or ""


class TokenAuthenticationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.auth_token = None
        request.auth_error = None
        meta = request_meta.from_request(request)
        bound = request_meta.bind(meta)
        structlog.contextvars.bind_contextvars(ip=meta.ip)
        try:
            # On client-app routes a bearer is a project key or an end user's token
            # (endusers.middleware), never a developer's.
            raw = None if getattr(request, "client_route", False) else bearer_token(request.META)
            if raw is not None:
                self._authenticate(request, raw)
            return self.get_response(request)
        finally:
            request_meta.reset(bound)

    def _authenticate(self, request, raw: str) -> None:
        request.user = AnonymousUser()
        try:
            authenticated = authenticate_access_token(raw)
        except AuthFailed:
            request.auth_error = INVALID
            return
        request.user = authenticated.user
        request.auth_token = authenticated.token
