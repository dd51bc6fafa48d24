"""The one client for HTTP the platform sends to URLs its tenants chose.

Webhook deliveries, scheduled job runs and alert channels (signed webhook, Slack, PagerDuty)
all call ``post``. It

* refuses to run inside an open database transaction and hands this thread's connections back
  to the pool first, so waiting on a slow receiver (up to the timeout) holds no connection;
* checks the destination (``outbound.destinations.check``) and connects to the address it
  checked, keeping the URL's host for ``Host`` and TLS (SNI and certificate verification);
* sends JSON, signed when given a secret: ``X-Platform-Signature: v1=HMAC-SHA256(secret,
  "<timestamp>.<body>")`` with ``X-Platform-Timestamp``, plus ``X-Request-ID`` (the current
  one) and, when tracing is on, the W3C ``traceparent``;
* never follows a redirect, ignores proxy variables, and does not read the response body;
* answers an ``Outcome`` that says only delivered / refused / timed out / HTTP status. What went
  wrong on the network (connection refused, reset, TLS) is for the operator's log: told to a
  tenant it would make the platform a port scanner.
"""

import hashlib
import hmac
import json
import ssl
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import httpx
import structlog
from django.db import connections

from outbound import destinations
from outbound.constants import DELIVERED, HTTP_STATUS, REFUSED, TIMED_OUT, USER_AGENT

logger = structlog.get_logger(__name__)


class OpenTransaction(RuntimeError):
    """Outgoing HTTP was attempted inside a database transaction."""


@dataclass(frozen=True)
class Outcome:
    result: str  # one of outbound.constants.RESULTS
    status: int | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result == DELIVERED

    @property
    def summary(self) -> str:
        """What the tenant is told: "" (delivered), "refused", "timed out" or "HTTP <status>"."""
        if self.result == HTTP_STATUS:
            return f"HTTP {self.status}"
        return {DELIVERED: "", REFUSED: "refused", TIMED_OUT: "timed out"}[self.result]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def current_request_id() -> str:
    """The request id of the request or task at hand, or a new one."""
    return str(structlog.contextvars.get_contextvars().get("request_id") or uuid.uuid4().hex)


def correlation_headers() -> dict[str, str]:
    """``X-Request-ID`` (``current_request_id``) and, when tracing is on, ``traceparent``."""
    headers = {"X-Request-ID": current_request_id()}
    from observability import tracing

    tracing.inject(headers)
    return headers


def encode(payload) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def release_database() -> None:
    """Give this thread's database connections back before waiting on the network."""
    opened = connections.all(initialized_only=True)
    if any(connection.in_atomic_block for connection in opened):
        raise OpenTransaction(
            "Outgoing HTTP runs after the transaction has closed (transaction.on_commit)."
        )
    for connection in opened:
        connection.close()  # pooled: back to the pool; otherwise reopened on the next query


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def post(
    url: str,
    payload,
    *,
    timeout: float,
    secret: str = "",
    headers: dict[str, str] | None = None,
) -> Outcome:
    """POST ``payload`` as JSON to ``url``; 2xx is delivered, any other answer its status."""
    release_database()
    body = encode(payload)
    sent = {
        **correlation_headers(),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **(headers or {}),
    }
    if secret:
        timestamp = str(int(time.time()))
        sent["X-Platform-Timestamp"] = timestamp
        sent["X-Platform-Signature"] = sign(secret, timestamp, body)
    started = time.perf_counter()
    status, error = None, ""
    try:
        destination = destinations.check(url)
    except destinations.Refused as exc:
        result, error, destination = REFUSED, str(exc), None
    else:
        result, status, error = _send(destination, body, sent, timeout)
    outcome = Outcome(result, status, round((time.perf_counter() - started) * 1000, 2))
    # The host only: a URL's path may be its secret (Slack's incoming webhooks).
    log = logger.info if outcome.ok else logger.warning
    log(
        "outbound_request",
        host=_host(url),
        address=str(destination.address) if destination else None,
        result=outcome.result,
        status=outcome.status,
        duration_ms=outcome.duration_ms,
        error=error[:200],
    )
    return outcome


def _send(
    destination: destinations.Destination, body: bytes, headers: dict, timeout: float
) -> tuple[str, int | None, str]:
    host = destination.url.raw_host.decode("ascii")
    extensions = {} if host == str(destination.address) else {"sni_hostname": host}
    try:
        with httpx.Client(
            verify=_tls(), trust_env=False, follow_redirects=False, timeout=timeout
        ) as client:
            with client.stream(
                "POST",
                destination.pinned_url,
                content=body,
                headers={**headers, "Host": destination.host_header},
                extensions=extensions,
            ) as response:
                status = response.status_code
    except httpx.TimeoutException as exc:
        return TIMED_OUT, None, type(exc).__name__
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        return REFUSED, None, f"{type(exc).__name__}: {exc}"
    return (DELIVERED if 200 <= status < 300 else HTTP_STATUS), status, ""


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""
