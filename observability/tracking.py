"""Error tracking: unhandled exceptions grouped by fingerprint (type + location).

Hooks: Django's ``got_request_exception`` (HTTP), Celery's ``task_failure`` and
``capture_exception`` for websocket consumers (or ``track_consumer_errors``). Recording never
raises: a broken error tracker must not turn one failure into two.
"""

import functools

import structlog

from observability import services

logger = structlog.get_logger(__name__)


def capture_exception(
    exc: BaseException, *, source: str, request_id: str = "", org_id=None
) -> None:
    try:
        if not request_id or org_id is None:
            context = structlog.contextvars.get_contextvars()
            request_id = request_id or str(context.get("request_id", ""))
            org_id = org_id or context.get("org_id")
        services.error_record(exc=exc, source=source, request_id=request_id, org_id=org_id)
    except Exception as failure:  # never let tracking break the caller
        logger.warning("error_tracking_failed", error=f"{type(failure).__name__}")


def on_request_exception(sender, request=None, **kwargs):
    import sys

    from platform_site.errors import database_unavailable

    exc = sys.exc_info()[1]
    if exc is None:
        return
    if database_unavailable(exc):
        # A 503 (platform_site.errors.handler500), logged there once a minute: no error group
        # per request, and django-structlog (whose receiver runs after this one) takes it as
        # already logged instead of writing a traceback per request.
        if request is not None:
            request._raised_exception = exc
            request.database_unavailable = exc  # DEBUG's 500 page too becomes the 503 (edge)
        return
    org = getattr(request, "org", None)
    capture_exception(
        exc,
        source="http",
        request_id=getattr(request, "request_id", ""),
        org_id=org.id if org is not None else None,
    )


def on_task_failure(sender=None, task_id=None, exception=None, **kwargs):
    if exception is None:
        return
    capture_exception(exception, source="celery")


def track_consumer_errors(handler):
    """Decorator for websocket consumer handlers (sync or async): record, then re-raise."""
    import inspect

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def async_wrapper(self, *args, **kwargs):
            try:
                return await handler(self, *args, **kwargs)
            except Exception as exc:
                from asgiref.sync import sync_to_async

                await sync_to_async(capture_consumer_exception)(exc, getattr(self, "scope", {}))
                raise

        return async_wrapper

    @functools.wraps(handler)
    def wrapper(self, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except Exception as exc:
            capture_consumer_exception(exc, getattr(self, "scope", {}))
            raise

    return wrapper


def capture_consumer_exception(exc: BaseException, scope: dict) -> None:
    org = scope.get("org")
    capture_exception(
        exc,
        source="websocket",
        request_id=str(scope.get("request_id", "")),
        org_id=getattr(org, "id", None) or scope.get("org_id"),
    )


def connect() -> None:
    from celery.signals import task_failure
    from django.core.signals import got_request_exception

    got_request_exception.connect(on_request_exception, dispatch_uid="observability-errors")
    task_failure.connect(on_task_failure, dispatch_uid="observability-errors", weak=False)
