"""Which protocol a handshake at ``/realtime/v1/websocket`` speaks.

The platform's own realtime protocol and Supabase's share the path. A Phoenix client always
puts ``vsn`` (and realtime-js the ``apikey``) in the query string; the platform's protocol
never uses the query (its token comes in the first message or a subprotocol). So a handshake
with either parameter goes to :class:`compat.realtime.consumers.PhoenixConsumer`, any other to
the platform's consumer.
"""

from urllib.parse import parse_qs

from compat.realtime.consumers import PhoenixConsumer

PHOENIX_PARAMETERS = ("vsn", "apikey")


def speaks_phoenix(scope) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=10)
    return any(name in query for name in PHOENIX_PARAMETERS)


class NativeOrPhoenix:
    """The ASGI application that hands each handshake to ``inner`` (the platform's consumer)
    or to ``phoenix``."""

    def __init__(self, inner):
        self.inner = inner
        self.phoenix = PhoenixConsumer.as_asgi()

    async def __call__(self, scope, receive, send):
        chosen = self.phoenix if speaks_phoenix(scope) else self.inner
        return await chosen(scope, receive, send)
