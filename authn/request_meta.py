"""Who is calling: client IP (X-Forwarded-For only from trusted proxies), user agent, request id.

The auth middleware binds it per request in a context variable, so services, rate limits,
the audit trail and every log line (``ip``) read the same values without passing the request
around. The servers believe forwarding headers from the same ``AUTHN_TRUSTED_PROXIES`` only
(``scripts/devstack.py`` ``uvicorn_command``, ``gunicorn.conf.py``): behind such a proxy they
have already put the client in ``REMOTE_ADDR``, and walking X-Forwarded-For again here gives
the same address; everywhere else X-Forwarded-For is ignored.
"""

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings


@dataclass(frozen=True)
class RequestMeta:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_EMPTY = RequestMeta()
_current: ContextVar[RequestMeta | None] = ContextVar("authn_request_meta", default=None)


@lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parse_ip(value: str) -> ipaddress._BaseAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """REMOTE_ADDR, unless it is a configured proxy: then the nearest untrusted hop it names."""
    remote = _parse_ip(request.META.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return None
    networks = _networks(tuple(settings.AUTHN_TRUSTED_PROXIES))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _parse_ip(hop)
        if address is None:
            break
        if not _trusted(address, networks):
            return str(address)
    return str(remote)


def from_request(request) -> RequestMeta:
    return RequestMeta(
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        request_id=getattr(request, "request_id", "") or "",
    )


def bind(meta: RequestMeta):
    return _current.set(meta)


def reset(token) -> None:
    _current.reset(token)


def current() -> RequestMeta:
    return _current.get() or _EMPTY
