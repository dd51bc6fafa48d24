"""Bearer-token authentication as middleware, so the tenant middleware after it knows the user.

Every bearer request: the JWT signature, algorithm, ``iss``/``aud``, expiry and type are
checked by simplejwt, then its session (``sid``) must be live: Redis first, PostgreSQL on a
miss or when the breaker is open (``authn.services.session_is_live``). DRF reads the result
through ``authn.authentication.MiddlewareTokenAuthentication``. The middleware also binds
the request's client IP, user agent and id for the audit trail.
"""

from uuid import UUID

import structlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from authn import request_meta, services

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
        meta = request_meta.from_request(request)
        bound = request_meta.bind(meta)
        structlog.contextvars.bind_contextvars(ip=meta.ip)
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
            token = AccessToken(raw)
            user_id = int(token.get("sub"))
            session_id = UUID(str(token.get("sid")))
        except (TokenError, TypeError, ValueError):
            request.auth_error = INVALID
            return
        if not services.session_is_live(session_id=session_id, user_id=user_id):
            request.auth_error = INVALID
            return
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            request.auth_error = INVALID
            return
        request.user = user
        request.auth_token = token
