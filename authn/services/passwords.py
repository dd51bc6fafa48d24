"""Passwords: change (signed in) and reset (by a mailed link). Either revokes sessions."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from authn import emails
from authn.audit import audit_record
from authn.constants import AuditAction, RevokeReason
from authn.models import AccountState
from authn.services import revocation
from authn.services.accounts import normalize_email, validate_new_password
from tenants.context import TenantContext, tenant_context

User = get_user_model()


def _replace_password(user, password: str, *, action: str, reason: str, keep=None) -> int:
    """Store the new password, revoke every session of the user but ``keep``, audit it."""
    with tenant_context(TenantContext(user_id=user.pk)):
        user.set_password(password)
        user.save(update_fields=["password"])
        AccountState.objects.update_or_create(
            user=user, defaults={"password_changed_at": timezone.now()}
        )
        count = revocation.revoke(revocation.live_sessions(user.pk, exclude=keep), reason=reason)
        audit_record(
            action=action,
            actor_id=user.pk,
            target_type="user",
            target_id=user.pk,
            metadata={"sessions_revoked": count},
        )
        return count


def password_change(*, user, session_id, current_password: str, new_password: str) -> int:
    """Change the password; every other session of the user is revoked."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": "The current password is not correct."})
    validate_new_password(new_password, user, field="new_password")
    return _replace_password(
        user,
        new_password,
        action=AuditAction.PASSWORD_CHANGE,
        reason=RevokeReason.PASSWORD_CHANGE,
        keep=session_id,
    )


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Mail a reset link if the account exists; the caller sees the same either way."""
    email = normalize_email(email)
    user = User.objects.filter(username=email, is_active=True).first()
    target = user or User(username=email, password=make_password(None))
    uid = urlsafe_base64_encode(force_bytes(target.pk or 0))
    token = default_token_generator.make_token(target)
    audit_record(
        action=AuditAction.PASSWORD_RESET_REQUEST,
        actor_id=None,
        target_type="user",
        target_id=user.pk if user else "",
        metadata={"known_account": user is not None},
    )
    if user is not None:
        emails.send_password_reset(email=user.email, uid=uid, token=token)


def password_reset_confirm(*, uid: str, token: str, new_password: str):
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError):
        user_id = None
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not default_token_generator.check_token(user, token):
        raise ValidationError({"token": "This reset link is invalid or has expired."})
    validate_new_password(new_password, user, field="new_password")
    _replace_password(
        user, new_password, action=AuditAction.PASSWORD_RESET, reason=RevokeReason.PASSWORD_RESET
    )
    return user
