"""Who a websocket is: the one place a realtime token is validated.

Consumers call ``authenticate_token(raw)`` and nothing else. A token is accepted exactly when
the REST API would accept it: valid signature and claims, active user, live session.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from authn.services import session_is_live


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
    sid = token.get("sid")
    # The same check as every API request: the token's session must be live.
    if user is None or not sid or not session_is_live(session_id=sid, user_id=user.pk):
        raise AuthenticationFailed("invalid or expired token")
    return Identity(user.pk, user.get_username(), str(sid), float(token["exp"]))
