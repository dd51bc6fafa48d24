"""Auth e-mails (Django's email backend: console in dev, SMTP in production).

Links point at the client app (``AUTHN_FRONTEND_URL``) and carry the secret in the URL
fragment, which browsers never send to a server, so no access log records it. Sending goes
through Celery after commit (``AUTHN_EMAIL_ASYNC``), so a slow SMTP server neither holds the
request's transaction nor makes "account exists" measurably slower than "no such account".
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction


def _dispatch(*, to: str, subject: str, body: str) -> None:
    if settings.AUTHN_EMAIL_ASYNC:
        from authn.tasks import send_auth_email

        transaction.on_commit(lambda: send_auth_email.delay(to=to, subject=subject, body=body))
    else:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])


def _base(site_url: str | None) -> str:
    """The developers' frontend, or a project's own app (its auth settings' ``site_url``)."""
    return (site_url or settings.AUTHN_FRONTEND_URL).rstrip("/")


def send_password_reset(*, email: str, uid: str, token: str, site_url: str | None = None) -> None:
    fragment = f"uid={uid}&token={token}" if uid else f"token={token}"
    link = f"{_base(site_url)}/reset-password#{fragment}"
    _dispatch(
        to=email,
        subject="Reset your password",
        body=f"Someone asked to reset the password of this account.\n\n{link}\n\n"
        "If it was not you, ignore this message.",
    )


def send_email_verification(*, email: str, token: str, site_url: str | None = None) -> None:
    link = f"{_base(site_url)}/verify-email#token={token}"
    _dispatch(to=email, subject="Confirm your email address", body=f"Confirm: {link}\n")
