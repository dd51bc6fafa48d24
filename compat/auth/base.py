"""The base of the GoTrue-compatible views (``/auth/v1/``): the client identity's caller, the
one rate limiter, and every error in GoTrue's shape.

``gotrue_exception_handler`` is the platform's handler (``platform_site.errors``: DRF's
conversions, the rollback of the request's writes, ``Retry-After``) with the body reshaped
to ``{code, error_code, msg}`` and the codes auth-js knows (``compat.errors.GOTRUE_CODES``);
the services' own refusals get GoTrue's codes and statuses here (``gotrue_error``).
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error

from access.constants import SERVICE_ROLE
from authn import ratelimit, request_meta
from authn.services.email_verification import INVALID_LINK
from compat import errors as compat_errors
from endusers.api.base import ClientView
from endusers.services import accounts
from endusers.services.passwords import INVALID_RESET
from platform_site.errors import api_exception_handler

EXPIRED_LINK = "Email link is invalid or has expired"
# GoTrue's two answers for a taken email: at sign-up, and on a change of address.
EMAIL_TAKEN = {
    "user_already_exists": "User already registered",
    "email_exists": "A user with this email address has already been registered",
}


class GoTrueError(exceptions.APIException):
    """An error as GoTrue answers it; ``extra`` goes into the body (``weak_password``)."""

    def __init__(self, status_code: int, code: str, message: str, **extra):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.extra = extra


def _flat(detail) -> str:
    """GoTrue's ``msg`` is one sentence: the first field error, named."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            text = _flat(value)
            return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
    if isinstance(detail, list):
        return " ".join(_flat(item) for item in detail)
    return str(detail)


def from_validation(exc: DjangoValidationError, *, email_taken: str) -> exceptions.APIException:
    """A service's field errors as GoTrue names them: a rejected password is a weak one, a
    taken email an existing user, a bad mailed token an expired link."""
    detail = as_serializer_error(exc)  # always {field: [messages]}

    def messages(field: str) -> list[str]:
        return [str(m) for m in detail.get(field, [])]

    if reasons := messages("password"):
        message = " ".join(reasons)
        return GoTrueError(422, "weak_password", message, weak_password={"reasons": reasons})
    if messages("email") == [accounts.EMAIL_TAKEN]:
        return GoTrueError(422, email_taken, EMAIL_TAKEN[email_taken])
    if messages("token") in ([INVALID_LINK], [INVALID_RESET]):
        return GoTrueError(403, "otp_expired", EXPIRED_LINK)
    return GoTrueError(400, "validation_failed", _flat(detail))


def gotrue_error(exc, view) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return from_validation(exc, email_taken=getattr(view, "email_taken", "email_exists"))
    if isinstance(exc, exceptions.ValidationError):
        return GoTrueError(400, "validation_failed", _flat(exc.detail))
    if isinstance(exc, accounts.SignupDisabled):
        return GoTrueError(422, "signup_disabled", "Signups not allowed for this instance")
    if isinstance(exc, accounts.AnonymousSignInDisabled):
        return GoTrueError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
    if isinstance(exc, ObjectDoesNotExist):
        return GoTrueError(404, "user_not_found", "User not found")
    return exc


def gotrue_exception_handler(exc, context):
    exc = gotrue_error(exc, context.get("view"))
    response = api_exception_handler(exc, context)
    if response is None:
        return None  # a 500: Django's handler answers in GoTrue's shape (compat.errors)
    error = response.data["error"]
    status_code, code = compat_errors.gotrue_code(response.status_code, error["code"])
    response.status_code = status_code
    response.data = compat_errors.gotrue_body(
        status_code, code, error["message"], **getattr(exc, "extra", {})
    )
    return response


@extend_schema(exclude=True)  # GoTrue's wire protocol (docs/auth-compat.md), not the platform's
class GoTrueView(ClientView):
    """A view of ``/auth/v1/`` (also under ``/p/<ref>/``); the project is the key's."""

    api_errors: dict = {}  # gotrue_error maps the services' exceptions
    # What a taken email is called on this route (sign-up: GoTrue's user_already_exists).
    email_taken = "email_exists"

    def get_exception_handler(self):
        return gotrue_exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response[compat_errors.GOTRUE_API_VERSION_HEADER] = compat_errors.GOTRUE_API_VERSION
        return response

    @property
    def project(self):
        return self.client.project

    def limit(self, action: str, account: str | None = None) -> None:
        """The client auth limits (``CLIENT_AUTH_RATE_LIMITS``), counted with the platform's
        own auth routes of the project: one budget, whichever protocol asks."""
        try:
            ratelimit.check(
                action, ip=request_meta.current().ip, account=account, project=self.project
            )
        except ratelimit.RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None


class SignedInView(GoTrueView):
    """Routes of the signed-in end user, named by the access token."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.client.end_user_id is None:
            raise GoTrueError(
                status.HTTP_401_UNAUTHORIZED,
                "no_authorization",
                "This endpoint requires a valid Bearer token",
            )


class AdminView(GoTrueView):
    """``auth.admin``: the project's secret key (``service_role``) only."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.client.role != SERVICE_ROLE:
            raise GoTrueError(status.HTTP_403_FORBIDDEN, "not_admin", "User not allowed")
