"""End users' passwords: hashing (authn's hashers and validators), recovery by mailed link.

A reset token is signed per project (``django.core.signing``, as authn's verification links)
and carries a fingerprint of the current password hash and last sign-in (as Django's own
reset tokens), so it works once: the reset changes the hash, a sign-in through the link
(``end_user_password_recovery_signin``) the sign-in time, and every earlier link stops
matching. It expires after ``PASSWORD_RESET_TIMEOUT``.
"""

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from authn import emails
from authn.audit import audit_record
from authn.constants import AuditAction, RevokeReason
from authn.services.accounts import normalize_email, validate_new_password
from endusers import selectors
from endusers.models import EndUser
from endusers.services.sessions import (
    ClientSession,
    acting_for,
    end_user_session_start,
    end_user_sessions_revoke_all,
    is_banned,
)

INVALID_RESET = "This reset link is invalid or has expired."


def password_set(end_user: EndUser, password: str, *, field: str = "password") -> None:
    """Validate (Django's validators, as for developers) and hash (Argon2id) a new password."""
    validate_new_password(password, end_user, field=field)
    end_user.password = make_password(password)


def password_matches(end_user: EndUser | None, password: str) -> bool:
    """The check at sign-in, at the same Argon2id cost whether or not there is an account
    (or a password) to check; an outdated hash is redone."""
    if end_user is None or not end_user.password:
        make_password(password)
        return False

    def upgrade(raw):
        end_user.password = make_password(raw)
        EndUser.objects.filter(pk=end_user.pk).update(password=end_user.password)

    return check_password(password, end_user.password, setter=upgrade)


def _salt(project) -> str:
    return f"endusers.password-reset:{project.id}"


def _fingerprint(end_user: EndUser) -> str:
    signed_in = end_user.last_sign_in_at.isoformat() if end_user.last_sign_in_at else "-"
    value = f"{end_user.password or '-'}|{signed_in}"
    return salted_hmac("endusers.password-reset", value).hexdigest()[:20]


@transaction.atomic
def end_user_password_recover(*, project, email: str) -> None:
    """Mail a reset link if the end user exists; the caller sees the same either way."""
    email = normalize_email(email)
    with acting_for(project):
        end_user = selectors.end_user_by_email(project=project, email=email)
        audit_record(
            action=AuditAction.END_USER_PASSWORD_RESET_REQUEST,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk if end_user else "",
            metadata={"known_account": end_user is not None},
        )
    if end_user is None:
        return
    token = signing.dumps({"u": str(end_user.pk), "f": _fingerprint(end_user)}, salt=_salt(project))
    site_url = selectors.auth_settings_for(project=project).site_url
    emails.send_password_reset(email=end_user.email, uid="", token=token, site_url=site_url)


def _reset_target(*, project, token: str) -> EndUser:
    """The end user a reset link names, row-locked, in the caller's ``acting_for`` block."""
    try:
        data = signing.loads(token, salt=_salt(project), max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.BadSignature:
        raise ValidationError({"token": INVALID_RESET}) from None
    if not isinstance(data, dict) or not isinstance(data.get("f"), str):
        raise ValidationError({"token": INVALID_RESET})
    end_user = (
        EndUser.objects.select_for_update()
        .filter(project_id=project.id, pk=data.get("u"))
        .exclude(email="")
        .first()
    )
    if end_user is None or not constant_time_compare(_fingerprint(end_user), data["f"]):
        raise ValidationError({"token": INVALID_RESET})
    return end_user


@transaction.atomic
def end_user_password_recovery_signin(*, project, token: str) -> ClientSession:
    """Sign in through a reset link instead of setting the password with it (GoTrue's
    recovery flow: the app then sets the new password as the signed-in end user, which
    revokes the other sessions). The sign-in changes the fingerprint: the link works once."""
    with acting_for(project):
        end_user = _reset_target(project=project, token=token)
        if is_banned(end_user):
            raise ValidationError({"token": INVALID_RESET})
        if end_user.email_confirmed_at is None:
            end_user.email_confirmed_at = timezone.now()
            end_user.save(update_fields=["email_confirmed_at", "updated_at"])
        audit_record(
            action=AuditAction.END_USER_SIGNIN_OK,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
            metadata={"method": "recovery_link"},
        )
    return end_user_session_start(project=project, end_user=end_user)


@transaction.atomic
def end_user_password_reset(*, project, token: str, password: str) -> EndUser:
    """Set the new password; every session of the end user is revoked. Following the link
    proves the address, so it counts as confirmed."""
    with acting_for(project):
        end_user = _reset_target(project=project, token=token)
        password_set(end_user, password)
        end_user.email_confirmed_at = end_user.email_confirmed_at or timezone.now()
        end_user.save(update_fields=["password", "email_confirmed_at", "updated_at"])
        count = end_user_sessions_revoke_all(
            project=project, end_user_id=end_user.pk, reason=RevokeReason.PASSWORD_RESET
        )
        audit_record(
            action=AuditAction.END_USER_PASSWORD_RESET,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
            metadata={"sessions_revoked": count},
        )
    return end_user
