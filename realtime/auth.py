"""Who a websocket is: the one place a realtime token is validated.

Consumers call ``authenticate_token(raw)`` and nothing else, so switching to the session
service (tokens carrying ``sid``, session liveness) is a change to this function only.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken


class AuthenticationFailed(Exception):
    """The token is missing, malformed, expired, or its user is gone or inactive."""


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    session_id: str | None  # the token's ``sid`` claim, when it has one
    expires_at: float  # epoch seconds; the socket is closed once it passes


def authenticate_token(raw: str) -> Identity:
    """Validate a bearer token (synchronous: touches the database)."""
    if not raw or len(raw) > 4096:
        raise AuthenticationFailed("missing token")
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        raise AuthenticationFailed("invalid or expired token") from exc
    user = get_user_model().objects.filter(pk=token.get("sub"), is_active=True).first()
    if user is None:
        raise AuthenticationFailed("invalid or expired token")
    sid = token.get("sid")
    return Identity(user.pk, user.get_username(), str(sid) if sid else None, float(token["exp"]))
