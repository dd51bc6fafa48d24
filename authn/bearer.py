"""Access-token validation: the one check behind every bearer request and every websocket.

``authn.middleware.TokenAuthenticationMiddleware`` (HTTP) and the realtime consumer call
``authenticate_bearer(raw)`` and nothing else. A token is accepted when simplejwt accepts it
(signature, HS256 pinned, ``iss``/``aud``, expiry, token type), its ``sub`` and ``sid``
claims are well formed, its session is live (``authn.services.session_is_live``: Redis first,
PostgreSQL on a miss or while the breaker is open) and its user is active. The session comes
first: on a cache hit a refused token costs no query, an accepted one a single read.
"""

from dataclasses import dataclass
from uuid import UUID

from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from authn import services

# Far above any token we issue; refused before any parsing.
MAX_TOKEN_LENGTH = 4096


class InvalidToken(Exception):
    """Malformed, forged or expired, its session revoked, or its user gone or inactive."""


@dataclass(frozen=True)
class Bearer:
    user: object  # the active user the token speaks for
    token: AccessToken
    session_id: UUID

    @property
    def expires_at(self) -> float:
        """Epoch seconds of the token's ``exp``."""
        return float(self.token["exp"])


def authenticate_bearer(raw: str) -> Bearer:
    """Validate an access token (synchronous: may read Redis and PostgreSQL)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise InvalidToken("missing or oversized token")
    try:
        token = AccessToken(raw)
        user_id = int(token.get("sub"))
        session_id = UUID(str(token.get("sid")))
    except (TokenError, TypeError, ValueError) as exc:
        raise InvalidToken("invalid or expired token") from exc
    if not services.session_is_live(session_id=session_id, user_id=user_id):
        raise InvalidToken("session is not live")
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise InvalidToken("user is gone or inactive")
    return Bearer(user=user, token=token, session_id=session_id)
