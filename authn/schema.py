"""OpenAPI description of the bearer-token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class MiddlewareTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "authn.authentication.MiddlewareTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
