"""Bearer tokens for tests: the access token of a real, live session, as login issues it."""

from rest_framework_simplejwt.tokens import AccessToken

from authn.services import sessions


def access_token(user, **claims) -> str:
    pair = sessions.session_start(user=user)
    if not claims:
        return pair.access
    token = AccessToken(pair.access)
    for claim, value in claims.items():
        token[claim] = value
    return str(token)
