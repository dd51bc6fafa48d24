"""Bearer-token authentication as middleware, so the tenant middleware after it knows the user.

Every bearer request is checked by ``authn.bearer.authenticate_bearer`` (the JWT, then its
live session and active user; the same function authenticates websockets). DRF reads the
result through ``authn.authentication.MiddlewareTokenAuthentication``. The middleware also
binds the request's client IP, user agent and id for the audit trail.
"""

from django.contrib.auth.models import AnonymousUser

from authn import request_meta
from authn.bearer import InvalidToken, authenticate_bearer

INVALID = "Invalid or expired token."


def _bearer(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or ""


class TokenAuthenticationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.auth_token = None
        request.auth_error = None
        bound = request_meta.bind(request_meta.from_request(request))
        try:
            raw = _bearer(request)
            if raw is not None:
                self._authenticate(request, raw)
            return self.get_response(request)
        finally:
            request_meta.reset(bound)

    def _authenticate(self, request, raw: str) -> None:
        request.user = AnonymousUser()
        try:
            bearer = authenticate_bearer(raw)
        except InvalidToken:
            request.auth_error = INVALID
            return
        request.user = bearer.user
        request.auth_token = bearer.token
