"""Correlation ids and per-request log context.

``RequestIdMiddleware`` runs first: it honours a well-formed incoming ``X-Request-ID`` or
makes one, and echoes it. ``RequestContextMiddleware`` runs after authentication and the
tenant middleware: it binds org, user and route to every log line of the request, writes the
API access log (headers masked, bodies off unless ``LOG_HTTP_BODIES``) and observes the
per-route latency histogram and, for API requests, the platform-wide one in Redis
(``observability.latency``). ``RequestIdMiddleware`` also hands a client app's request to its
project's request log (``observability.request_log``).
"""

import re
import time
import uuid

import structlog
from django.conf import settings
from django.dispatch import receiver
from django_structlog import signals as structlog_signals

from observability import latency, metrics, request_log, tracing
from observability.redaction import MASK, mask_value

REQUEST_ID_HEADER = "X-Request-ID"
# Which app instance answered (``PLATFORM_INSTANCE``): behind a load balancer, the one header
# that tells a client or an operator where a request went.
INSTANCE_HEADER = "X-Platform-Instance"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_LOGGED_HEADERS = ("HTTP_USER_AGENT", "CONTENT_TYPE", "HTTP_AUTHORIZATION", "HTTP_COOKIE")

logger = structlog.get_logger("observability.access")


def clean_request_id(value: str | None) -> str:
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Runs first, so django-structlog and everything after it see the validated id; and
    last, so it hands every client request, refused ones included, to the request log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.obs_started = time.perf_counter()
        request_id = clean_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        response[INSTANCE_HEADER] = settings.PLATFORM_INSTANCE
        # Here, outermost, a client request refused before the view is seen too.
        if getattr(request, "client", None) or getattr(request, "client_refused_project", None):
            seconds = time.perf_counter() - request.obs_started
            request_log.record(request, response, seconds)  # the project's Logs page
        return response


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unresolved"


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        route = route_of(request)
        started = getattr(request, "obs_started", None)
        is_api = request.path.startswith("/api/")
        if started is not None:
            seconds = time.perf_counter() - started
            metrics.observe_request(
                route=route, method=request.method, status=response.status_code, seconds=seconds
            )
            if is_api:
                latency.record(seconds)  # the platform-wide p99 (shared histogram in Redis)
        if is_api:
            self._access_log(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        org = getattr(request, "org", None)
        context = {"route": route_of(request)}
        if user is not None and user.is_authenticated:
            context["user_id"] = user.pk
        if org is not None:
            context["org_id"] = str(org.id)
        structlog.contextvars.bind_contextvars(**context)
        # The server span started before the request id and org were known.
        tracing.annotate_current_span(
            request_id=getattr(request, "request_id", None), org_id=context.get("org_id")
        )
        return None

    def _access_log(self, request, response) -> None:
        headers = {
            name.removeprefix("HTTP_").lower(): mask_value(name, request.META[name])
            for name in _LOGGED_HEADERS
            if name in request.META
        }
        fields = {"method": request.method, "path": request.path, "headers": headers}
        if settings.LOG_HTTP_BODIES:
            fields["request_body"] = _body(getattr(request, "_body", b""))
            if not getattr(response, "streaming", False):
                fields["response_body"] = _body(response.content)
        logger.info("api_request", status=response.status_code, **fields)


def _body(raw: bytes) -> object:
    import json

    text = raw[: settings.LOG_HTTP_BODY_MAX].decode("utf-8", "replace")
    try:
        return mask_value("", json.loads(text))
    except ValueError:
        return mask_value("", text) if text else ""


@receiver(structlog_signals.bind_extra_request_finished_metadata)
def _finished_metadata(sender, request, logger, response, log_kwargs, **kwargs):
    started = getattr(request, "obs_started", None)
    log_kwargs["status"] = response.status_code
    log_kwargs["route"] = route_of(request)
    if started is not None:
        log_kwargs["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    org = getattr(request, "org", None)
    if org is not None:
        log_kwargs["org_id"] = str(org.id)


__all__ = ["INSTANCE_HEADER", "MASK", "REQUEST_ID_HEADER", "clean_request_id"]
