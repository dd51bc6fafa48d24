"""What every websocket consumer inherits: the connection's log context and error tracking.

``ObservedConsumer`` wraps a consumer's whole life (``__call__``: the handshake, every client
frame and channel-layer event, the channel layer's receive loop). It binds the handshake's
request id (``X-Request-ID`` when well formed, else a new one), user and org for every log
line (``observability.context.bind_websocket_context``), and an exception that escapes is
grouped as an ``ErrorGroup`` (``observability.tracking.track_consumer_errors``) before the
server sees it. Put it first among the bases: ``class C(ObservedConsumer, AsyncConsumer)``.
"""

from observability.context import bind_websocket_context
from observability.tracking import track_consumer_errors


class ObservedConsumer:
    @track_consumer_errors
    async def __call__(self, scope, receive, send):
        # The consumer's task runs in a context of its own: what is bound here stays with
        # this connection.
        self.scope = scope
        bind_websocket_context(scope)
        return await super().__call__(scope, receive, send)
