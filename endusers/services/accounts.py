"""End users' accounts: sign-up, sign-in, anonymous sign-in, their own profile, and what the
project's secret key or its developers change (app_metadata, bans, confirmation, deletion).

Everything reads and writes end users as the project's service role (``acting_for``) or, for
a developer, in the developer's org context; row-level security stays forced either way.
"""

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authn.audit import audit_org_write, audit_record
from authn.constants import AuditAction, RevokeReason
from authn.services.accounts import normalize_email
from endusers import selectors
from endusers.constants import SignupMode
from endusers.models import EndUser, ProjectAuthSettings
from endusers.services import verification
from endusers.services.passwords import password_matches, password_set
from endusers.services.sessions import (
    ClientSession,
    acting_for,
    end_user_session_start,
    end_user_sessions_revoke_all,
    is_banned,
)
from platform_site.errors import unique_violation_is_invalid
from tenants import constants as perms
from tenants.permissions import require_org_perm

EMAIL_TAKEN = "An account with this email already exists."
MAX_METADATA_BYTES = 16 * 1024
MAX_ROLES = 32
MAX_ROLE_LENGTH = 64
UNSET = object()


class SignupDisabled(Exception):
    """The project's sign-up setting is ``closed``."""


class AnonymousSignInDisabled(Exception):
    pass


@dataclass(frozen=True)
class SignIn:
    """A session, or why not: ``invalid_credentials`` (unknown email or wrong password, the
    same answer), ``user_banned``, ``email_not_confirmed`` (the last two only with the right
    password)."""

    session: ClientSession | None = None
    refused: str = ""


def _metadata(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError({field: "An object."})
    if len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise ValidationError({field: f"At most {MAX_METADATA_BYTES} bytes of JSON."})
    return value


def clean_app_metadata(value) -> dict:
    value = _metadata(value, "app_metadata")
    roles = value.get("roles", [])
    if not isinstance(roles, list) or len(roles) > MAX_ROLES:
        raise ValidationError({"app_metadata": f"roles: a list of at most {MAX_ROLES} names."})
    for role in roles:
        if not isinstance(role, str) or not 0 < len(role) <= MAX_ROLE_LENGTH:
            raise ValidationError(
                {"app_metadata": f"roles: names of 1 to {MAX_ROLE_LENGTH} characters."}
            )
    return value


def _save_new(end_user: EndUser) -> None:
    # The unique index (project, email) decides, whatever row-level security shows.
    with unique_violation_is_invalid("email", EMAIL_TAKEN):
        end_user.save(force_insert=True)


@transaction.atomic
def end_user_signup(
    *, project, email: str, password: str, user_metadata: dict | None = None
) -> tuple[EndUser, ClientSession | None]:
    """A new end user, with a session in ``open`` mode; in ``confirm`` mode the session comes
    with the confirmation (``verification.end_user_email_verify``)."""
    mode = selectors.auth_settings_for(project=project).signup
    if mode == SignupMode.CLOSED:
        raise SignupDisabled
    end_user = EndUser(
        org_id=project.org_id,
        project=project,
        email=normalize_email(email),
        user_metadata=_metadata(user_metadata or {}, "user_metadata"),
    )
    password_set(end_user, password)
    with acting_for(project):
        _save_new(end_user)
        audit_record(
            action=AuditAction.END_USER_SIGNUP,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
            metadata={"mode": mode},
        )
    verification.send_verification(project=project, end_user=end_user)
    if mode == SignupMode.CONFIRM:
        return end_user, None
    return end_user, end_user_session_start(project=project, end_user=end_user)


@transaction.atomic
def end_user_signin(*, project, email: str, password: str) -> SignIn:
    """Email + password -> a session. The refusal is returned, not raised, so its audit row
    stays; unknown email and wrong password cost the same Argon2id work."""
    mode = selectors.auth_settings_for(project=project).signup
    with acting_for(project):
        end_user = selectors.end_user_by_email(project=project, email=normalize_email(email))
        ok = password_matches(end_user, password)
        refused = ""
        if not ok:
            refused = "invalid_credentials"
        elif is_banned(end_user):
            refused = "user_banned"
        elif mode == SignupMode.CONFIRM and end_user.email_confirmed_at is None:
            refused = "email_not_confirmed"
        action = AuditAction.END_USER_SIGNIN_FAIL if refused else AuditAction.END_USER_SIGNIN_OK
        audit_record(
            action=action,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk if end_user else "",
            metadata={"reason": refused} if refused else {},
        )
    if refused:
        return SignIn(refused=refused)
    return SignIn(session=end_user_session_start(project=project, end_user=end_user))


@transaction.atomic
def end_user_anonymous_signin(*, project, user_metadata: dict | None = None) -> ClientSession:
    """A real end user without email or password, upgradable later (``end_user_update_self``)."""
    if not selectors.auth_settings_for(project=project).anonymous_sign_in:
        raise AnonymousSignInDisabled
    end_user = EndUser(
        org_id=project.org_id,
        project=project,
        is_anonymous=True,
        user_metadata=_metadata(user_metadata or {}, "user_metadata"),
    )
    with acting_for(project):
        end_user.save(force_insert=True)
        audit_record(
            action=AuditAction.END_USER_ANONYMOUS_SIGNIN,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
        )
    return end_user_session_start(project=project, end_user=end_user)


@transaction.atomic
def end_user_update_self(
    *,
    project,
    end_user_id,
    session_id,
    user_metadata: dict | None = None,
    email: str | None = None,
    password: str | None = None,
) -> EndUser:
    """The signed-in end user's own changes. ``user_metadata`` is merged key by key; a new
    email must be confirmed again; a new password revokes the end user's other sessions. An
    anonymous end user becomes a permanent one by setting both email and password."""
    with acting_for(project):
        end_user = (
            EndUser.objects.select_for_update().filter(project_id=project.id, pk=end_user_id).get()
        )
        changed, mail, revoke = ["updated_at"], False, False
        if end_user.is_anonymous and (email is not None or password is not None):
            if not email or not password:
                raise ValidationError(
                    {"email": "An anonymous user is upgraded with both email and password."}
                )
            end_user.is_anonymous = False
            changed.append("is_anonymous")
        if user_metadata is not None:
            merged = {**(end_user.user_metadata or {}), **user_metadata}
            end_user.user_metadata = _metadata(merged, "user_metadata")
            changed.append("user_metadata")
        if email is not None and normalize_email(email) != end_user.email:
            end_user.email = normalize_email(email)
            end_user.email_confirmed_at = None
            changed += ["email", "email_confirmed_at"]
            mail = True
        if password is not None:
            password_set(end_user, password)
            changed.append("password")
            revoke = True
        with unique_violation_is_invalid("email", EMAIL_TAKEN):
            end_user.save(update_fields=changed)
        count = 0
        if revoke:
            count = end_user_sessions_revoke_all(
                project=project,
                end_user_id=end_user.pk,
                reason=RevokeReason.PASSWORD_CHANGE,
                exclude=session_id,
            )
        audit_record(
            action=AuditAction.END_USER_UPDATE,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
            metadata={"fields": sorted(set(changed) - {"updated_at"}), "sessions_revoked": count},
        )
    if mail:
        verification.send_verification(project=project, end_user=end_user)
    return end_user


# --- The project's side: its secret key (service role) or its developers ---------------------


def _acting(project, membership, perm: str):
    """A developer's own org context (checked against ``perm``), or the service role."""
    if membership is None:
        return acting_for(project)
    require_org_perm(membership, perm, project)
    return nullcontext()


def _audit(project, membership, *, action: str, end_user, metadata=None) -> None:
    if membership is not None:
        audit_org_write(membership=membership, action=action, target=end_user, metadata=metadata)
    else:
        audit_record(
            action=action,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
            metadata={"by": "service_role", **(metadata or {})},
        )


@transaction.atomic
def end_user_create(
    *,
    project,
    email: str,
    password: str | None = None,
    user_metadata: dict | None = None,
    app_metadata: dict | None = None,
    email_confirmed: bool = False,
) -> EndUser:
    """The secret key creates an end user (whatever the sign-up setting)."""
    end_user = EndUser(
        org_id=project.org_id,
        project=project,
        email=normalize_email(email),
        user_metadata=_metadata(user_metadata or {}, "user_metadata"),
        app_metadata=clean_app_metadata(app_metadata or {}),
        email_confirmed_at=timezone.now() if email_confirmed else None,
    )
    if password:
        password_set(end_user, password)
    with acting_for(project):
        _save_new(end_user)
        _audit(project, None, action=AuditAction.END_USER_SIGNUP, end_user=end_user)
    return end_user


@transaction.atomic
def end_user_admin_update(
    *,
    project,
    end_user,
    membership=None,
    app_metadata=UNSET,
    user_metadata=UNSET,
    banned_until=UNSET,
    email_confirmed=UNSET,
) -> EndUser:
    """What only the project decides. A ban (``banned_until`` in the future) revokes every
    session of the end user at once; its next request is refused."""
    with _acting(project, membership, perms.MANAGE_END_USERS):
        end_user = EndUser.objects.select_for_update().get(pk=end_user.pk, project_id=project.id)
        changed = []
        if app_metadata is not UNSET:
            end_user.app_metadata = clean_app_metadata(app_metadata)
            changed.append("app_metadata")
        if user_metadata is not UNSET:
            end_user.user_metadata = _metadata(user_metadata, "user_metadata")
            changed.append("user_metadata")
        if email_confirmed is not UNSET:
            if not email_confirmed:
                end_user.email_confirmed_at = None
            elif end_user.email_confirmed_at is None:
                end_user.email_confirmed_at = timezone.now()
            changed.append("email_confirmed_at")
        banning = False
        if banned_until is not UNSET:
            if banned_until is not None and not isinstance(banned_until, datetime):
                raise ValidationError({"banned_until": "A date and time, or null."})
            end_user.banned_until = banned_until
            changed.append("banned_until")
            banning = is_banned(end_user)
        end_user.save(update_fields=[*changed, "updated_at"])
        if changed:
            _audit(
                project,
                membership,
                action=AuditAction.END_USER_UPDATE,
                end_user=end_user,
                metadata={"fields": changed},
            )
        if banning:
            count = end_user_sessions_revoke_all(
                project=project, end_user_id=end_user.pk, reason=RevokeReason.END_USER_BANNED
            )
            _audit(
                project,
                membership,
                action=AuditAction.END_USER_BAN,
                end_user=end_user,
                metadata={"until": end_user.banned_until.isoformat(), "sessions_revoked": count},
            )
    return end_user


@transaction.atomic
def end_user_sessions_revoke(*, project, end_user, membership) -> int:
    """A developer revokes every live session of an end user."""
    require_org_perm(membership, perms.MANAGE_END_USERS, project)
    count = end_user_sessions_revoke_all(
        project=project, end_user_id=end_user.pk, reason=RevokeReason.ADMIN
    )
    audit_org_write(
        membership=membership,
        action=AuditAction.END_USER_SESSION_REVOKE,
        target=end_user,
        metadata={"sessions_revoked": count},
    )
    return count


@transaction.atomic
def end_user_delete(*, project, end_user, membership=None) -> None:
    """Sessions revoked first (tombstones in Redis), then the row; the end user's records
    keep their data with ``end_user`` set NULL by the database."""
    with _acting(project, membership, perms.MANAGE_END_USERS):
        end_user = EndUser.objects.select_for_update().get(pk=end_user.pk, project_id=project.id)
        count = end_user_sessions_revoke_all(
            project=project, end_user_id=end_user.pk, reason=RevokeReason.ADMIN
        )
        _audit(
            project,
            membership,
            action=AuditAction.END_USER_DELETE,
            end_user=end_user,
            metadata={"sessions_revoked": count, "email_domain": end_user.email.partition("@")[2]},
        )
        end_user.delete()


@transaction.atomic
def auth_settings_update(*, membership, project, **fields) -> ProjectAuthSettings:
    require_org_perm(membership, perms.MANAGE_END_USERS, project)
    current = selectors.auth_settings_for(project=project)
    for name, value in fields.items():
        setattr(current, name, value)
    current.full_clean(exclude=["project", "org"])
    current.save()
    audit_org_write(
        membership=membership,
        action=AuditAction.AUTH_SETTINGS_UPDATE,
        target=project,
        metadata={"fields": sorted(fields)},
    )
    return current
