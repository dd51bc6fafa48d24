"""Email verification: a signed link mailed at sign-up (and on request), confirmed once."""

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authn import emails
from authn.audit import audit_record
from authn.constants import AuditAction
from authn.models import AccountState

User = get_user_model()
EMAIL_VERIFY_SALT = "authn.email-verify"
EMAIL_VERIFY_MAX_AGE = 3 * 24 * 3600
INVALID_LINK = "This verification link is invalid or has expired."


def send_verification(*, user) -> None:
    """Mail the link; at sign-up the ``register`` event already says so."""
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFY_SALT)
    emails.send_email_verification(email=user.email, token=token)


def email_verify_request(*, user) -> None:
    """A new link, asked for by the signed-in user."""
    audit_record(
        action=AuditAction.EMAIL_VERIFY_REQUEST,
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
    )
    send_verification(user=user)


@transaction.atomic
def email_verify_confirm(*, token: str):
    try:
        data = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError({"token": INVALID_LINK}) from None
    user = User.objects.filter(pk=data.get("u"), email=data.get("e"), is_active=True).first()
    if user is None:
        raise ValidationError({"token": INVALID_LINK})
    AccountState.objects.update_or_create(user=user, defaults={"email_verified_at": timezone.now()})
    audit_record(
        action=AuditAction.EMAIL_VERIFIED, actor_id=user.pk, target_type="user", target_id=user.pk
    )
    return user
