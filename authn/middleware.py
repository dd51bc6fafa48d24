"""Bearer-token authentication as middleware, so the tenant middleware after it knows the user.

DRF reads the result through ``authn.authentication.MiddlewareTokenAuthentication``.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken


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
        raw = _bearer(request)
        if raw is not None:
            self._authenticate(request, raw)
        return self.get_response(request)

    def _authenticate(self, request, raw: str) -> None:
        request.user = AnonymousUser()
        try:
            token = AccessToken(raw)
        except TokenError:
            request.auth_error = "Invalid or expired token."
            return
        user = get_user_model().objects.filter(pk=token.get("sub"), is_active=True).first()
        if user is None:
            request.auth_error = "Invalid or expired token."
            return
        request.user = user
        request.auth_token = token
