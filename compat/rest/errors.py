"""Every error of ``/rest/v1/`` in PostgREST's shape, ``{code, message, details, hint}``, with
PostgREST's HTTP status and code: its own ``PGRST...`` codes for the requests it refuses, and
PostgreSQL's SQLSTATE for what the database refuses (as PostgREST forwards them):

=======  ========  ============================================================
status   code      when
=======  ========  ============================================================
400      PGRST100  a query string it cannot parse (filter, order, select, limit)
400      PGRST102  a body that is not JSON, or not a row or a list of rows
400      PGRST200  ``select`` embeds another collection; PGRST123 an aggregate
400      22P02     a value of the wrong type for the field (``age=eq.abc``)
400      23514     a row the collection's JSON Schema refuses
400      21000     an update or delete without a filter
400      42P10     ``on_conflict`` on anything but ``id``
400      428C9     a write naming a column the server sets
401/403  42501     the access rules refuse the write (401 for anon)
404      PGRST205  no such collection
404      PGRST202  ``/rpc/<function>``
405      PGRST117  another HTTP method
406      PGRST106  a schema other than ``public``; PGRST107 an unknown media type;
                   PGRST116 ``.single()`` with zero or several rows
409      23505     an insert of an id that exists
416      PGRST103  a range beyond the rows
=======  ========  ============================================================
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, transaction
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from compat.errors import POSTGREST_CODES, postgrest_body
from compat.rest.grammar import GrammarError
from datastore.filters import FilterError

# SQLSTATEs a client's request can cause, answered as PostgREST answers them.
DATABASE_ERRORS = {"23505": 409, "23514": 400, "42P10": 400, "42601": 400, "21000": 400}


def postgrest_exception_handler(exc, context):
    """The DRF exception handler of the PostgREST views (``get_exception_handler``)."""
    error = as_postgrest_error(exc, context)
    if error is None:
        return None  # Django's 500 handler answers, in this family's shape too
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)  # a refused request writes nothing (.single() included)
    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        headers["Retry-After"] = str(int(exc.wait))
    body = postgrest_body(error.code, error.message, error.details, error.hint)
    return Response(body, status=error.status, headers=headers)


def as_postgrest_error(exc, context) -> GrammarError | None:
    if isinstance(exc, GrammarError):
        return exc
    if isinstance(exc, FilterError):  # a condition the grammar let through but SQL cannot take
        return GrammarError(str(exc))
    if isinstance(exc, DjangoValidationError):
        return GrammarError(
            f'new row for relation "{_table(context)}" violates check constraint "json_schema"',
            code="23514",
            details="; ".join(_messages(exc)),
        )
    if isinstance(exc, DatabaseError):
        return _database_error(exc, context)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.ParseError):
        return GrammarError("Empty or invalid json", code="PGRST102", details=str(exc.detail))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return GrammarError(
            f"Content-Type not acceptable: {exc.detail}", code="PGRST107", status=415
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        method = context["request"].method if context.get("request") else ""
        return GrammarError(f"Unsupported HTTP method: {method}", code="PGRST117", status=405)
    if isinstance(exc, exceptions.APIException):
        status = exc.status_code
        code = POSTGREST_CODES.get(status, exc.default_code)
        return GrammarError(str(exc.detail), code=str(code), status=status)
    return None


def _database_error(exc: DatabaseError, context) -> GrammarError | None:
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or ""
    diag = getattr(cause, "diag", None)
    message = (getattr(diag, "message_primary", None) or str(exc)).strip()
    if sqlstate == "42501":
        request = context.get("request")
        client = getattr(getattr(request, "_request", request), "client", None)
        anon = getattr(client, "role", None) == "anon"
        return GrammarError(
            f'new row violates row-level security policy for table "{_table(context)}"',
            code="42501",
            status=401 if anon else 403,
            hint="The project's access rules do not allow this write.",
        )
    if sqlstate in DATABASE_ERRORS:
        return GrammarError(message, code=sqlstate, status=DATABASE_ERRORS[sqlstate])
    if sqlstate.startswith("22"):  # data exceptions: a value PostgreSQL cannot take
        return GrammarError(message, code=sqlstate)
    return None


def _table(context) -> str:
    view = context.get("view")
    return getattr(view, "kwargs", {}).get("table", "")


def _messages(exc: DjangoValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            str(message)
            for errors in exc.message_dict.values()
            for message in (errors if isinstance(errors, list) else [errors])
        ]
    return [str(message) for message in exc.messages]
