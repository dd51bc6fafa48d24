"""Access JWTs (simplejwt, HS256 pinned, iss/aud set and checked) and opaque refresh tokens.

A refresh token is 32 random bytes at login; each rotation derives its successor as an HMAC
of the presented token under the server secret. Only SHA-256 hashes are stored. Because the
successor is a function of its parent, a client retrying the same refresh within the grace
window gets the very same successor back, without the server keeping any token.
"""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken


def access_token_for(*, user, session_id, org_id=None, role: str | None = None) -> str:
    token = AccessToken.for_user(user)
    token["sub"] = str(user.pk)
    token["sid"] = str(session_id)
    token["org"] = str(org_id) if org_id else None
    token["role"] = role
    return str(token)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def successor_of(raw: str) -> str:
    key = hashlib.sha256(("authn.refresh:" + settings.SECRET_KEY).encode()).digest()
    digest = hmac.new(key, raw.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
