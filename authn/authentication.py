"""DRF side of ``authn.middleware.TokenAuthenticationMiddleware``."""

from rest_framework import authentication, exceptions


class MiddlewareTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        django_request = request._request
        if getattr(django_request, "auth_error", None):
            raise exceptions.AuthenticationFailed(django_request.auth_error)
        token = getattr(django_request, "auth_token", None)
        if token is None:
            return None
        return django_request.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
