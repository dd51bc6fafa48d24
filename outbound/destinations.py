"""Where the platform may send HTTP on a tenant's behalf.

A tenant names a URL (a webhook, a scheduled job, an alert channel); the platform then makes
requests from inside its own network. ``check(url)`` is the one gate: http(s) only, no
credentials in the URL, and every address the host resolves to must be public, unless it lies
in ``OUTBOUND_ALLOWED_NETWORKS`` (CIDRs an operator trusts, e.g. loopback for local receivers).
Refused: loopback, private, shared (CGNAT), link-local (cloud metadata), multicast, reserved and
unspecified addresses, IPv4 and IPv6, including IPv4 addresses carried inside IPv6 (mapped,
6to4). Odd spellings (``2130706433``, ``0x7f.1``) are resolved by the system resolver first and
checked as the address they name.

The check runs at registration and again before every request; the client then connects to the
address that was checked (``Destination.address``), so a second DNS answer cannot swap it.
``resolve`` is the only DNS lookup in this path.
"""

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = ("http", "https")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """The URL is not a destination the platform sends to. The message is safe for tenants."""


# The tenant learns that a host is not usable, never why: "does not resolve" and "resolves to
# 10.0.0.7" read the same, so the check cannot be used to map internal DNS.
NOT_PUBLIC = "The host must resolve to a public address."


@dataclass(frozen=True)
class Destination:
    url: httpx.URL
    address: Address

    @property
    def host_header(self) -> str:
        host = self.url.raw_host.decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        return host if self.url.port is None else f"{host}:{self.url.port}"

    @property
    def pinned_url(self) -> httpx.URL:
        """The URL with its host replaced by the checked address."""
        return self.url.copy_with(host=str(self.address))


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to play a DNS rebinding)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in spec if cidr.strip())


def allowed_networks() -> tuple:
    return _networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))


def _embedded(address: Address) -> Address:
    """The IPv4 address an IPv6 one carries (mapped ``::ffff:a.b.c.d`` or 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour or address
    return address


def is_public(address: Address) -> bool:
    for candidate in {address, _embedded(address)}:
        if (
            not candidate.is_global
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or candidate.is_loopback
            or candidate.is_link_local
            or candidate.is_private
            or getattr(candidate, "is_site_local", False)
        ):
            return False
    return True


def is_allowed(address: Address) -> bool:
    """Public, or inside a network the operator allowed (checked on the embedded IPv4 too)."""
    candidates = (address, _embedded(address))
    if any(a in net for net in allowed_networks() for a in candidates):
        return True
    return is_public(address)


def parse(url: str) -> httpx.URL:
    """The URL, if its form is acceptable; no network access."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise Refused("Not a valid URL.") from exc
    if parsed.scheme not in SCHEMES:
        raise Refused("Only http:// and https:// URLs are accepted.")
    if parsed.userinfo:
        raise Refused("Credentials in the URL are not accepted; use the signing secret.")
    if not parsed.raw_host:
        raise Refused("The URL needs a host.")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise Refused("Not a valid port.")
    return parsed


def check(url: str) -> Destination:
    """Parse and resolve ``url``; every address must be allowed. Raises ``Refused``."""
    parsed = parse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        answers = resolve(parsed.raw_host.decode("ascii"), port)
        addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers]
    except (OSError, UnicodeError, ValueError) as exc:
        raise Refused(NOT_PUBLIC) from exc
    if not addresses or not all(is_allowed(address) for address in addresses):
        raise Refused(NOT_PUBLIC)
    return Destination(url=parsed, address=addresses[0])


def validate(url: str, *, field: str = "url") -> None:
    """``check`` for registration: a refusal is a ValidationError on ``field`` (a 400)."""
    try:
        check(url)
    except Refused as exc:
        raise ValidationError({field: str(exc)}) from exc
