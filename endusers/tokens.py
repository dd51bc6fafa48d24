"""End users' access tokens: per-project JWTs.

Shaped like Supabase Auth's (``sub``, ``role: authenticated``, ``aud: authenticated``,
``session_id``, ``app_metadata``, ``user_metadata``, ``is_anonymous``) so client libraries
read them as they expect; signed with HS256 under a key derived for the project, with the
project's own issuer. A developer's token (another issuer, audience and key) never passes
here, and an end user's never passes the developer check (``authn.services.session_check``).
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from uuid import UUID

import jwt
from django.conf import settings

from endusers.constants import AUTHENTICATED

ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def _signing_key(project_id) -> bytes:
    base = settings.SIMPLE_JWT.get("SIGNING_KEY") or settings.SECRET_KEY
    return hmac.new(base.encode(), f"endusers.jwt:{project_id}".encode(), hashlib.sha256).digest()


def issuer(project) -> str:
    return f"{settings.CLIENT_JWT_ISSUER}/{project.ref}"


def access_token_for(*, project, end_user, session_id) -> tuple[str, int]:
    """The token and its expiry (epoch seconds)."""
    now = int(time.time())
    expires = now + int(settings.CLIENT_ACCESS_TOKEN_LIFETIME.total_seconds())
    claims = {
        "iss": issuer(project),
        "aud": AUTHENTICATED,
        "sub": str(end_user.id),
        "role": AUTHENTICATED,
        "ref": project.ref,
        "session_id": str(session_id),
        "email": end_user.email,
        "is_anonymous": end_user.is_anonymous,
        "app_metadata": end_user.app_metadata or {},
        "user_metadata": end_user.user_metadata or {},
        "aal": "aal1",
        "iat": now,
        "exp": expires,
    }
    return jwt.encode(claims, _signing_key(project.id), algorithm=ALGORITHM), expires


@dataclass(frozen=True)
class Claims:
    end_user_id: UUID
    session_id: UUID
    app_roles: tuple[str, ...]
    raw: dict


def decode(raw: str, *, project) -> Claims:
    """The claims of an end user's token of ``project``, or ``InvalidToken``."""
    try:
        claims = jwt.decode(
            raw,
            _signing_key(project.id),
            algorithms=[ALGORITHM],
            audience=AUTHENTICATED,
            issuer=issuer(project),
            options={"require": ["exp", "sub", "session_id", "iss", "aud"]},
        )
        if claims.get("role") != AUTHENTICATED:
            raise InvalidToken("not an end user's token")
        roles = (claims.get("app_metadata") or {}).get("roles") or []
        return Claims(
            end_user_id=UUID(claims["sub"]),
            session_id=UUID(claims["session_id"]),
            app_roles=tuple(sorted(r for r in roles if isinstance(r, str))),
            raw=claims,
        )
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken("invalid or expired token") from exc
