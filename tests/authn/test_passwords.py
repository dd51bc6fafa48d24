"""Password storage and rules: Argon2id at OWASP's floor, legacy upgrade, no truncation."""

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher, make_password
from rest_framework.test import APIClient

from authn.hashers import Argon2idPasswordHasher
from tests.authn.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db


def test_argon2id_first_with_owasp_parameters():
    assert settings.PASSWORD_HASHERS[0] == "authn.hashers.Argon2idPasswordHasher"
    hasher = get_hasher()
    assert hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2 and hasher.parallelism == 1
    encoded = make_password("some password here")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    "legacy",
    [
        lambda pw: make_password(pw, hasher="pbkdf2_sha256"),
        lambda pw: make_password(pw, hasher="pbkdf2_sha1"),
        lambda pw: Argon2PasswordHasher().encode(pw, Argon2PasswordHasher().salt()),
    ],
)
def test_legacy_hashes_are_upgraded_at_login(user, legacy):
    user.password = legacy(PASSWORD)
    user.save(update_fields=["password"])
    assert not user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert login(APIClient(), user.email).status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert login(APIClient(), user.email).status_code == 200


def _register(password):
    return APIClient().post(
        "/api/v1/auth/register/", {"email": "len@example.com", "password": password}
    )


def test_length_rules_and_no_truncation():
    assert _register("Ab3$xyz").status_code == 400  # 7 characters
    assert _register("x" * 1025).status_code == 400  # beyond the DoS guard
    long_password = "correct-horse-" * 7 + "tail-A"  # 104 characters
    assert _register(long_password).status_code == 201
    assert login(APIClient(), "len@example.com", long_password).status_code == 200
    # Differing only after character 72 (where bcrypt would truncate) must fail.
    assert login(APIClient(), "len@example.com", long_password[:-1] + "B").status_code == 401


def test_common_passwords_are_refused():
    assert _register("password1").status_code == 400
    assert _register("qwertyuiop").status_code == 400


def test_unknown_email_and_wrong_password_cost_the_same_hashing(user, monkeypatch):
    calls = []
    for name in ("encode", "verify"):
        original = getattr(Argon2idPasswordHasher, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Argon2idPasswordHasher, name, spy)
    assert login(APIClient(), user.email, "wrong password").status_code == 401
    wrong_password = list(calls)
    calls.clear()
    assert login(APIClient(), "absent@example.com", "wrong password").status_code == 401
    unknown_email = list(calls)
    # One Argon2id computation with the same parameters either way.
    assert len(wrong_password) == len(unknown_email) == 1
