"""Who may read /metrics and detailed health: staff users or an allow-listed network.

Staff is recognised from a bearer token (the authn middleware set ``request.user``) or a
Studio session. Networks come from ``METRICS_ALLOWED_NETWORKS`` (CIDRs); the address checked is
``REMOTE_ADDR`` as the server saw it, never a client-supplied header.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]):
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in spec if cidr)


def from_allowed_network(request) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


def is_operator(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and (user.is_staff or user.is_superuser):
        return True
    return from_allowed_network(request)
