"""Which websocket handshakes may open, by their ``Origin`` header.

Browsers always send ``Origin`` on a websocket handshake, and would send the user's cookies
with it: a browser page may connect only from one of our hosts (``ALLOWED_HOSTS``) or from an
origin the API already trusts (``CORS_ALLOWED_ORIGINS``). Clients that send no ``Origin``
(mobile apps, servers, curl) are not browsers; they are let through and authenticate like any
API client (a bearer token for realtime, the Studio's own session otherwise). A malformed
``Origin`` is refused.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings

DEBUG_HOSTS = ["localhost", "127.0.0.1", "[::1]"]  # Django's own default under DEBUG


def allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS) or (DEBUG_HOSTS if settings.DEBUG else [])
    return [*hosts, *getattr(settings, "CORS_ALLOWED_ORIGINS", [])]


class WebsocketOriginValidator(OriginValidator):
    """Read at every handshake, so settings changed at runtime (and in tests) apply."""

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not any(
            name == b"origin" for name, _ in scope.get("headers", [])
        ):
            return await self.application(scope, receive, send)
        return await super().__call__(scope, receive, send)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:  # the header is there but not readable
            return False
        return any(
            pattern == "*" or self.match_allowed_origin(parsed_origin, pattern)
            for pattern in allowed_origins()
        )
