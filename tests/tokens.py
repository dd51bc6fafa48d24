"""Bearer tokens for tests: the access token of a real, live session, as login issues it."""

from rest_framework_simplejwt.tokens import AccessToken

from authn import services as auth_services


def access_token(user, **claims) -> str:
    pair = auth_services.session_start(user=user)
    if not claims:
        return pair.access
    token = AccessToken(pair.access)
    for claim, value in claims.items():
        token[claim] = value
    return str(token)
