"""Every forged or misused token gets 401: the JWT checks and the live-session check."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.tokens import RefreshToken as JwtRefreshToken

from authn.services import sessions
from tests.authn.helpers import bearer

pytestmark = pytest.mark.django_db
ME = "/api/v1/auth/me/"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(pair) -> dict:
    return dict(AccessToken(pair.access).payload)


def _sign(claims: dict, *, key=None, algorithm="HS256", headers=None) -> str:
    key = api_settings.SIGNING_KEY if key is None else key
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _status(token: str) -> int:
    return bearer(APIClient(), token).get(ME).status_code


@pytest.fixture
def pair(user):
    return sessions.session_start(user=user)


def test_the_genuine_token_works(pair):
    assert _status(pair.access) == 200
    assert _status(_sign(_claims(pair))) == 200  # re-signed with the real key: still valid


def test_alg_none_is_refused(pair):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(pair)).encode())
    assert _status(f"{header}.{body}.") == 401
    assert _status(jwt.encode(_claims(pair), None, algorithm="none")) == 401


def test_rs256_and_hs_rs_confusion_are_refused(pair):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _status(_sign(_claims(pair), key=private, algorithm="RS256")) == 401
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The classic confusion: HMAC keyed with a public key, announced as RS256 or HS256.
    body = _b64(json.dumps(_claims(pair)).encode())
    for alg in ("RS256", "HS256"):
        header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        assert _status(f"{header}.{body}.{_b64(mac)}") == 401


def test_stripped_and_altered_signatures_are_refused(pair):
    header, body, signature = pair.access.split(".")
    assert _status(f"{header}.{body}.") == 401
    assert _status(f"{header}.{body}") == 401
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert _status(f"{header}.{body}.{flipped}") == 401
    claims = _claims(pair)
    claims["sub"] = "999999"
    forged_body = _b64(json.dumps(claims).encode())
    assert _status(f"{header}.{forged_body}.{signature}") == 401


def test_wrong_issuer_or_audience_is_refused(pair):
    for change in ({"iss": "someone-else"}, {"aud": "other-api"}):
        assert _status(_sign({**_claims(pair), **change})) == 401
    for missing in ("iss", "aud"):
        claims = _claims(pair)
        del claims[missing]
        assert _status(_sign(claims)) == 401


def test_expired_by_one_second_is_refused(pair):
    now = int(time.time())
    assert _status(_sign({**_claims(pair), "exp": now - 1})) == 401
    assert _status(_sign({**_claims(pair), "exp": now + 60})) == 200


def test_refresh_tokens_are_not_access_tokens(pair, user):
    assert _status(pair.refresh) == 401  # the opaque refresh token
    jwt_refresh = JwtRefreshToken.for_user(user)  # a JWT of type "refresh", validly signed
    jwt_refresh["sid"] = pair.session_id
    assert _status(str(jwt_refresh)) == 401
    assert _status(_sign({**_claims(pair), "token_type": "refresh"})) == 401


def test_token_of_a_revoked_session_is_refused(pair, user):
    assert _status(pair.access) == 200
    sessions.session_logout(user=user, session_id=pair.session_id)
    assert _status(pair.access) == 401  # the JWT itself has not expired


def test_token_without_a_session_or_of_another_users_session_is_refused(pair, user, other_user):
    claims = _claims(pair)
    del claims["sid"]
    assert _status(_sign(claims)) == 401
    theirs = sessions.session_start(user=other_user)
    assert _status(_sign({**_claims(pair), "sid": theirs.session_id})) == 401
    assert _status(_sign({**_claims(pair), "sid": "not-a-uuid"})) == 401


def test_token_lifetime_is_between_five_and_fifteen_minutes(pair):
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert timedelta(minutes=5) <= lifetime <= timedelta(minutes=15)
    assert settings.SIMPLE_JWT["ALGORITHM"] == "HS256"
