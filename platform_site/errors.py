"""One error shape for the whole API, and its place in the OpenAPI schema.

Every error body is::

    {"error": {"status": 404, "code": "not_found", "message": "...",
               "details": {...} | null, "request_id": "..."}}

A request that finds PostgreSQL unreachable (``database_unavailable``) answers 503 with
Retry-After in that shape (or its Supabase family's), logged once a minute, never a 500.
"""

import sys
import time
from contextlib import contextmanager
from http import HTTPStatus

import psycopg
import structlog
from django import db
from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from compat import errors as compat_errors

logger = structlog.get_logger(__name__)


def error_body(status_code: int, code: str, message: str, details=None, request=None) -> dict:
    return {
        "error": {
            "status": status_code,
            "code": code,
            "message": message,
            "details": details,
            "request_id": getattr(request, "request_id", None),
        }
    }


def error_response(request, status_code: int, code: str, message: str, details=None, **kw):
    """The error shape of the request's API family: the platform's own, or one of Supabase's
    (``compat.errors``) on its paths."""
    # path_info: under /p/<ref>/ the client middleware has already taken the prefix off.
    family = compat_errors.family_of(request.path_info) if request is not None else None
    if family is not None:
        response = compat_errors.family_response(family, status_code, code, message)
    else:
        response = JsonResponse(
            error_body(status_code, code, message, details, request), status=status_code
        )
    for header, value in kw.get("headers", {}).items():
        response[header] = value
    return response


def _message_and_details(exc: exceptions.APIException) -> tuple[str, object]:
    detail = exc.detail
    if isinstance(detail, dict | list):
        if isinstance(exc, exceptions.ValidationError):
            return "Invalid input.", detail
        return str(exc.default_detail), detail
    return str(detail), None


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def api_exception_handler(exc, context):
    """DRF's handler, reshaped. Unknown exceptions fall through to Django's 500 handler."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge(f"A request body (files aside) is at most {limit} bytes.")
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError("Too many form fields or files.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if not isinstance(exc.detail, dict | list) else None
        code = code if isinstance(code, str) else _default_code(exc)
        message, details = _message_and_details(exc)
    else:  # Http404 / PermissionDenied converted by DRF
        code = "not_found" if response.status_code == 404 else "permission_denied"
        message, details = HTTPStatus(response.status_code).phrase + ".", None
    # An error undoes the request's writes; views that must persist something on an error
    # path (a failed-login audit row) return their response instead of raising.
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)
    response.data = error_body(response.status_code, code, message, details, request)
    return response


def _default_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    code = exc.default_code
    return code if isinstance(code, str) else "error"


API_PREFIXES = ("/api/", "/health/", "/metrics", "/storage/", "/client/", "/p/")
API_PREFIXES += ("/auth/v1/", "/rest/v1/", "/functions/v1/", "/realtime/v1/")  # Supabase's


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIXES)


# The code of an error that only has a status (Django's own 404/405/500 responses, for one).
STATUS_CODES = {
    400: ("bad_request", "Bad request."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "Permission denied."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("request_too_large", "Request body too large."),
    500: ("server_error", "Internal server error."),
}


def error_for_status(request, status_code: int, message: str | None = None):
    """The error shape for a bare status code."""
    if status_code in STATUS_CODES:
        code, text = STATUS_CODES[status_code]
    else:
        try:
            text = HTTPStatus(status_code).phrase
        except ValueError:
            text = "Error"
        code = text.lower().replace(" ", "_").replace("-", "_")
    return error_response(request, status_code, code, message or text)


def handler400(request, exception=None):
    if is_api_request(request):
        return error_for_status(request, 400)
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if is_api_request(request):
        return error_for_status(request, 403)
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if is_api_request(request):
        return error_for_status(request, 404)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(request)
    if is_api_request(request):
        return error_for_status(request, 500)
    return defaults.server_error(request)


# --- PostgreSQL unreachable: 503, not 500 ---------------------------------------------------------
# The server is shutting down, crashed, or not yet accepting connections (57P0x); class 08 is a
# connection failure; no SQLSTATE at all is a connection that never got that far (refused,
# the pool's timeout waiting for one).
UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03")
UNAVAILABLE_LOG_EVERY = 60.0  # seconds: one warning per process per outage minute, not per request
_unavailable_logged_at: float | None = None


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says PostgreSQL cannot be reached, as opposed to a
    statement that failed (a timeout, a constraint): psycopg's or Django's ``OperationalError``
    of a refused or lost connection or an admin shutdown, or the pool's timeout."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg.InterfaceError | db.InterfaceError):
            return True  # the connection is closed
        if isinstance(exc, psycopg.OperationalError):
            state = exc.sqlstate
            return state is None or state.startswith("08") or state in UNAVAILABLE_SQLSTATES
        exc = exc.__cause__ or exc.__context__
    return False


def database_unavailable_response(request, exc: BaseException | None = None):
    """503 with Retry-After in the request's error shape (the Studio gets a plain page), logged
    once a minute per process, and marked as logged so Django does not log it per request."""
    global _unavailable_logged_at
    now = time.monotonic()
    if _unavailable_logged_at is None or now - _unavailable_logged_at >= UNAVAILABLE_LOG_EVERY:
        _unavailable_logged_at = now
        exc = exc or sys.exc_info()[1]
        logger.warning(
            "database_unavailable", path=request.path, error=f"{type(exc).__name__}: {exc}"[:300]
        )
    headers = {"Retry-After": str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)}
    message = "The database is unavailable; retry shortly."
    if is_api_request(request):
        response = error_response(request, 503, "database_unavailable", message, headers=headers)
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = headers["Retry-After"]
    response._has_been_logged = True  # django.utils.log.log_response: logged once, above
    return response


UNIQUE_VIOLATION = "23505"


@contextmanager
def unique_violation_is_invalid(field: str, message: str):
    """Run a write in a savepoint; a unique violation becomes a 400 on ``field``.

    Checking uniqueness first cannot see rows that row-level security hides (another org's
    slug) and races with a concurrent insert; the database's unique index sees everything.
    The message is the same whoever owns the other row, so it tells nobody whose it is.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        raise DjangoValidationError({field: message}) from None


ROW_SECURITY_VIOLATION = "42501"


def row_security_denied(exc: Exception) -> exceptions.APIException:
    """A write that PostgreSQL's row-level security refused (SQLSTATE 42501: a policy's WITH
    CHECK, or a guard trigger) as a 403 ``permission_denied``; any other database error goes
    on to the 500 handler unchanged."""
    if getattr(exc.__cause__, "sqlstate", None) != ROW_SECURITY_VIOLATION:
        raise exc
    return exceptions.PermissionDenied("The project's access rules do not allow this.")


def csrf_failure(request, reason=""):
    return error_response(request, 403, "csrf_failed", "CSRF verification failed.")


# --- OpenAPI ----------------------------------------------------------------------------------
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string", "example": "not_found"},
                "message": {"type": "string"},
                "details": {"nullable": True, "description": "Field errors for validation."},
                "request_id": {"type": "string", "nullable": True},
            },
        }
    },
}
DOCUMENTED_ERRORS = {
    status.HTTP_400_BAD_REQUEST: "Invalid input",
    status.HTTP_401_UNAUTHORIZED: "Not authenticated",
    status.HTTP_403_FORBIDDEN: "Not allowed",
    status.HTTP_404_NOT_FOUND: "Not found (also: another org's object)",
    status.HTTP_429_TOO_MANY_REQUESTS: "Rate limited",
    status.HTTP_500_INTERNAL_SERVER_ERROR: "Server error",
    status.HTTP_503_SERVICE_UNAVAILABLE: "Database unavailable (with Retry-After)",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular hook: every operation documents the shared error shape."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for code, description in DOCUMENTED_ERRORS.items():
                responses.setdefault(str(code), {"description": description, "content": ref})
    return result
