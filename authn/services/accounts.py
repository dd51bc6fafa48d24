"""Accounts: sign-up, profile changes, deactivation by platform staff."""

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from authn.audit import audit_record
from authn.constants import AuditAction, RevokeReason
from authn.models import AccountState
from authn.services import email_verification, revocation
from tenants.context import TenantContext, tenant_context

User = get_user_model()


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def validate_new_password(password: str, user, *, field: str) -> None:
    """Django's validators (length, common, numeric, similarity), their messages on ``field``."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


@transaction.atomic
def user_register(*, email: str, password: str, first_name: str = "", last_name: str = ""):
    email = normalize_email(email)
    if User.objects.filter(username=email).exists():
        # Same answer as a fresh sign-up would get is not possible without e-mail round trips;
        # the rate limit on register bounds enumeration through this message.
        raise ValidationError({"email": "An account with this email already exists."})
    user = User(username=email, email=email, first_name=first_name, last_name=last_name)
    validate_new_password(password, user, field="password")
    user.set_password(password)
    user.save()
    AccountState.objects.create(user=user)
    audit_record(
        action=AuditAction.REGISTER,
        actor_id=user.pk,
        target_type="user",
        target_id=user.pk,
        metadata={"verification_mailed": True},
    )
    email_verification.send_verification(user=user)
    return user


@transaction.atomic
def user_update(*, user, first_name: str | None = None, last_name: str | None = None):
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    user.full_clean(exclude=["password"])
    user.save(update_fields=["first_name", "last_name"])
    audit_record(
        action=AuditAction.USER_UPDATE, actor_id=user.pk, target_type="user", target_id=user.pk
    )
    return user


def user_deactivate(*, actor, user) -> None:
    """Platform staff: the user can no longer log in, and every live session is revoked."""
    with tenant_context(TenantContext(user_id=actor.pk, platform_admin=True)):
        user.is_active = False
        user.save(update_fields=["is_active"])
        count = revocation.revoke(
            revocation.live_sessions(user.pk), reason=RevokeReason.USER_DEACTIVATED
        )
        audit_record(
            action=AuditAction.USER_DEACTIVATE,
            actor_id=actor.pk,
            target_type="user",
            target_id=user.pk,
            metadata={"sessions": count},
        )
