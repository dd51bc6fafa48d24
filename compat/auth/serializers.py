"""GoTrue's bodies: its inputs as auth-js sends them, and the platform's end users and sessions
written as GoTrue's user and session objects (``internal/models/user.go`` there).

Inputs ignore fields they do not know, as GoTrue does (auth-js adds ``gotrue_meta_security``,
``code_challenge`` and the like to every call); nothing unknown is ever applied.
"""

import uuid

from rest_framework import serializers

from endusers.constants import AUTHENTICATED
from endusers.services.sessions import SIGNOUT_SCOPES, ClientSession

_datetime = serializers.DateTimeField()
# Identity ids are derived, not stored: an email end user has exactly one identity.
IDENTITY_NAMESPACE = uuid.UUID("5e0d7a4c-2b0e-4c51-9a57-2f1f3c6a7e11")


def _password(**kw):
    return serializers.CharField(trim_whitespace=False, max_length=4096, **kw)


def _email(**kw):
    return serializers.EmailField(max_length=254, **kw)


class SignupInput(serializers.Serializer):
    """Email and password, or neither (anonymous sign-in); ``data`` is the user_metadata."""

    email = _email(required=False, allow_blank=True)
    password = _password(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    data = serializers.DictField(required=False, allow_null=True)


class PasswordGrantInput(serializers.Serializer):
    email = _email(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    password = _password()


class RefreshGrantInput(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=512)


class UserUpdateInput(serializers.Serializer):
    email = _email(required=False)
    password = _password(required=False)
    data = serializers.DictField(required=False)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64)


class LogoutInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=SIGNOUT_SCOPES, default="global")


class RecoverInput(serializers.Serializer):
    email = _email()


# Email confirmation (GoTrue names it after what asked for it) and password recovery.
CONFIRM_TYPES = ("signup", "email", "email_change", "invite")
VERIFY_TYPES = (*CONFIRM_TYPES, "recovery")


class VerifyInput(serializers.Serializer):
    """The mailed token, as ``token_hash`` (a link's) or ``token`` (with ``email``)."""

    type = serializers.ChoiceField(choices=VERIFY_TYPES)
    token_hash = serializers.CharField(required=False, max_length=2048)
    token = serializers.CharField(required=False, max_length=2048)
    email = _email(required=False, allow_blank=True)

    def validate(self, attrs):
        if not (attrs.get("token_hash") or attrs.get("token")):
            raise serializers.ValidationError("Verify requires a token or a token_hash.")
        return attrs


class AdminCreateInput(serializers.Serializer):
    email = _email()
    password = _password(required=False)
    email_confirm = serializers.BooleanField(required=False, default=False)
    user_metadata = serializers.DictField(required=False)
    app_metadata = serializers.DictField(required=False)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64)


class AdminUpdateInput(serializers.Serializer):
    """What ``auth.admin.updateUserById`` may change here; ``ban_duration`` is GoTrue's
    duration (``"24h"``, ``"90m"``) or ``"none"``."""

    user_metadata = serializers.DictField(required=False)
    app_metadata = serializers.DictField(required=False)
    email_confirm = serializers.BooleanField(required=False)
    ban_duration = serializers.RegexField(r"^(none|\d{1,7}(h|m|s))$", required=False)


def user_body(end_user) -> dict:
    """An end user as GoTrue's user object."""
    has_email = bool(end_user.email)
    confirmed = _datetime.to_representation(end_user.email_confirmed_at)
    app_metadata = dict(end_user.app_metadata or {})
    identities = []
    if has_email:
        app_metadata = {"provider": "email", "providers": ["email"], **app_metadata}
        identities.append(
            {
                "identity_id": str(uuid.uuid5(IDENTITY_NAMESPACE, str(end_user.id))),
                "id": str(end_user.id),
                "user_id": str(end_user.id),
                "identity_data": {
                    "email": end_user.email,
                    "email_verified": confirmed is not None,
                    "phone_verified": False,
                    "sub": str(end_user.id),
                },
                "provider": "email",
                "email": end_user.email,
                "last_sign_in_at": _datetime.to_representation(end_user.last_sign_in_at),
                "created_at": _datetime.to_representation(end_user.created_at),
                "updated_at": _datetime.to_representation(end_user.updated_at),
            }
        )
    body = {
        "id": str(end_user.id),
        "aud": AUTHENTICATED,
        "role": AUTHENTICATED,
        "email": end_user.email,
        "email_confirmed_at": confirmed,
        "phone": "",
        "confirmed_at": confirmed,
        "last_sign_in_at": _datetime.to_representation(end_user.last_sign_in_at),
        "app_metadata": app_metadata,
        "user_metadata": end_user.user_metadata or {},
        "identities": identities,
        "created_at": _datetime.to_representation(end_user.created_at),
        "updated_at": _datetime.to_representation(end_user.updated_at),
        "is_anonymous": end_user.is_anonymous,
    }
    if end_user.banned_until is not None:
        body["banned_until"] = _datetime.to_representation(end_user.banned_until)
    return body


def session_body(session: ClientSession) -> dict:
    return {
        "access_token": session.access_token,
        "token_type": "bearer",
        "expires_in": session.expires_in,
        "expires_at": session.expires_at,
        "refresh_token": session.refresh_token,
        "user": user_body(session.end_user),
    }
