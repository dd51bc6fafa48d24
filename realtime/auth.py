"""Who a websocket is: the one place a realtime token is validated.

Consumers call ``authenticate_token(raw)`` and nothing else. A token is accepted exactly when
the REST API would accept it: both run ``authn.services.session_check``'s
``authenticate_access_token``.
"""

from dataclasses import dataclass

from authn.services.session_check import AuthFailed, authenticate_access_token


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
    try:
        authenticated = authenticate_access_token(raw)
    except AuthFailed as exc:
        raise AuthenticationFailed(str(exc)) from exc
    user, token = authenticated.user, authenticated.token
    return Identity(
        user.pk, user.get_username(), str(authenticated.session_id), float(token["exp"])
    )
