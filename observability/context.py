"""Log context outside HTTP requests: websocket consumers bind what requests bind."""

import structlog

from observability.middleware import clean_request_id


def bind_websocket_context(scope: dict) -> str:
    """Bind request id, user and org of a websocket connection; return the request id.

    Call at the start of ``connect()`` (and of each handler when the consumer runs handlers
    in fresh contexts). The id comes from the handshake's ``X-Request-ID`` when well formed.
    """
    headers = dict(scope.get("headers") or [])
    raw = headers.get(b"x-request-id", b"").decode("latin-1") or scope.get("request_id")
    request_id = clean_request_id(raw)
    scope["request_id"] = request_id
    context: dict = {"request_id": request_id, "route": scope.get("path", "")}
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        context["user_id"] = user.pk
    org = scope.get("org")
    org_id = getattr(org, "id", None) or scope.get("org_id")
    if org_id:
        context["org_id"] = str(org_id)
    structlog.contextvars.bind_contextvars(**context)
    return request_id
