"""End users' email confirmation: a signed, per-project link mailed to the address.

The token scheme is authn's (``django.core.signing`` with a salt and a maximum age); the salt
names the project, so a link of one project never confirms anything in another, and the link
points at the project's own app (``ProjectAuthSettings.site_url``).
"""

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authn import emails
from authn.audit import audit_record
from authn.constants import AuditAction
from authn.services.email_verification import EMAIL_VERIFY_MAX_AGE, INVALID_LINK
from endusers import selectors
from endusers.models import EndUser
from endusers.services.sessions import ClientSession, acting_for, end_user_session_start, is_banned


def _salt(project) -> str:
    return f"endusers.email-verify:{project.id}"


def send_verification(*, project, end_user) -> None:
    token = signing.dumps({"u": str(end_user.pk), "e": end_user.email}, salt=_salt(project))
    site_url = selectors.auth_settings_for(project=project).site_url
    emails.send_email_verification(email=end_user.email, token=token, site_url=site_url)


@transaction.atomic
def end_user_email_verify(*, project, token: str) -> ClientSession:
    """Confirm the address the link was mailed to; the end user is signed in."""
    try:
        data = signing.loads(token, salt=_salt(project), max_age=EMAIL_VERIFY_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError({"token": INVALID_LINK}) from None
    if not isinstance(data, dict):
        raise ValidationError({"token": INVALID_LINK})
    with acting_for(project):
        end_user = (
            EndUser.objects.select_for_update()
            .filter(project_id=project.id, pk=data.get("u"), email=data.get("e") or "-")
            .first()
        )
        if end_user is None or is_banned(end_user):
            raise ValidationError({"token": INVALID_LINK})
        if end_user.email_confirmed_at is None:
            end_user.email_confirmed_at = timezone.now()
            end_user.save(update_fields=["email_confirmed_at", "updated_at"])
        audit_record(
            action=AuditAction.END_USER_EMAIL_VERIFIED,
            org_id=project.org_id,
            target_type="enduser",
            target_id=end_user.pk,
        )
    return end_user_session_start(project=project, end_user=end_user)
