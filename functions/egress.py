"""A function's only way out of its sandbox: an HTTP proxy on a Unix socket bound into it.

No Django here (the supervisor runs it). The worker's runtime sends every ``fetch`` through
``/run/worker/egress.sock`` (``Deno.createHttpClient`` with a Unix proxy: each request arrives
in absolute form, ``GET https://host/path``, in plain text), and this module answers it:

* ``http://platform.internal/<path>``: forwarded to the platform's own URL, for the client
  routes only (``PLATFORM_PREFIXES``). The request carries the invocation's token
  (``Authorization: Bearer ...``, see ``functions.tokens``), so the platform answers as the
  caller, under the project's access rules and row-level security;
* any other URL: only a ``host:port`` on the function's outbound allow-list (a host without a
  port allows 80 and 443), and only when every address it resolves to is public (or inside a
  network the operator allowed, ``--egress-allowed-networks``); the connection goes to the
  address that was checked, with the URL's host for ``Host`` and TLS. Anything else is a
  ``403`` with ``{"error": "egress_refused", "message": ...}``.

Deno's own ``--allow-net`` holds the same list, so a host that is not on it fails inside the
function as ``NotCapable`` before it reaches this proxy; the proxy is the gate that holds
whatever the code inside the sandbox does.
"""

import asyncio
import ipaddress
import json
import logging
import re
import socket
from dataclasses import dataclass

import h11
import httpx

from outbound.destinations import is_public

logger = logging.getLogger("functions.egress")

PLATFORM_HOST = "platform.internal"
# What a function may call on the platform: the client data APIs; never the developer API
# (the token is a client identity), auth (sessions are the end user's own) or functions (no
# invocation loops).
PLATFORM_PREFIXES = (
    "/client/v1/", "/rest/v1/", "/storage/v1/object/", "/storage/v1/bucket",
)  # fmt: skip
DEFAULT_PORTS = (80, 443)
HOP_BY_HOP = {
    "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te",
    "trailer", "proxy-connection", "proxy-authorization", "host",
}  # fmt: skip
READ_TIMEOUT = 30.0
# A DNS name or an IPv4 address: dot-separated labels of letters, digits and inner hyphens.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


class BadEntry(ValueError):
    pass


def parse_entry(entry: str) -> tuple[str, tuple[int, ...]]:
    """``"api.example.com"`` -> ports 80 and 443; ``"api.example.com:8443"`` -> that port."""
    text = (entry or "").strip().lower()
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if not HOST_NAME.match(host):
        raise BadEntry(f"{entry[:80]!r} is not a host name or host:port.")
    if host == PLATFORM_HOST:
        raise BadEntry(f"{PLATFORM_HOST} is the platform itself; it needs no entry.")
    if not port:
        return host, DEFAULT_PORTS
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise BadEntry(f"{entry[:80]!r}: not a valid port.")
    return host, (int(port),)


def allowed_pairs(entries: list[str]) -> frozenset[tuple[str, int]]:
    pairs = set()
    for entry in entries:
        host, ports = parse_entry(entry)
        pairs.update((host, port) for port in ports)
    return frozenset(pairs)


def deno_net(entries: list[str]) -> list[str]:
    """The same list in ``--allow-net``'s form."""
    return sorted(f"{host}:{port}" for host, port in allowed_pairs(entries))


@dataclass(frozen=True)
class Rules:
    hosts: frozenset[tuple[str, int]]
    networks: tuple = ()
    platform_url: str | None = None
    max_request_bytes: int = 1024 * 1024
    max_response_bytes: int = 6 * 1024 * 1024

    def address_allowed(self, address) -> bool:
        return any(address in net for net in self.networks) or is_public(address)


_http: httpx.AsyncClient | None = None


def http_client() -> httpx.AsyncClient:
    """The supervisor's one client for proxied requests (never follows redirects, ignores
    proxy variables)."""
    global _http
    if _http is None:
        _http = httpx.AsyncClient(
            timeout=httpx.Timeout(READ_TIMEOUT), follow_redirects=False, trust_env=False
        )
    return _http


async def close_http_client() -> None:
    global _http
    if _http is not None:
        await _http.aclose()
        _http = None


class Refusal(Exception):
    def __init__(self, status: int, message: str, code: str = "egress_refused"):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


async def _destination(url: httpx.URL, rules: Rules) -> tuple[httpx.URL, dict, dict]:
    """Where to send the request: (URL, extra headers, httpx extensions), or ``Refusal``."""
    host = url.host.lower()
    if host == PLATFORM_HOST:
        if not rules.platform_url:
            raise Refusal(503, "The platform's URL is not configured for functions.")
        if not url.path.startswith(PLATFORM_PREFIXES):
            raise Refusal(403, f"Functions may call only {', '.join(PLATFORM_PREFIXES)}.")
        target = httpx.URL(rules.platform_url.rstrip("/") + url.raw_path.decode("ascii"))
        return target, {}, {}
    if url.scheme not in ("http", "https"):
        raise Refusal(403, "Only http:// and https:// URLs are proxied.")
    port = url.port or (443 if url.scheme == "https" else 80)
    if (host, port) not in rules.hosts:
        raise Refusal(403, f"{host}:{port} is not on this function's outbound allow-list.")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    except (OSError, UnicodeError, ValueError):
        addresses = []
    # Same words whether it does not resolve or resolves inside: no map of internal DNS.
    if not addresses or not all(rules.address_allowed(a) for a in addresses):
        raise Refusal(403, f"{host} does not resolve to an address functions may reach.")
    address = str(addresses[0])
    pinned = url.copy_with(host=address)
    headers = {"host": host if url.port is None else f"{host}:{url.port}"}
    extensions = {"sni_hostname": host} if url.scheme == "https" and host != address else {}
    return pinned, headers, extensions


async def _read_request(conn: h11.Connection, reader, cap: int) -> tuple[h11.Request, bytes]:
    request, body = None, bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await asyncio.wait_for(reader.read(65536), READ_TIMEOUT))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > cap:
                raise Refusal(413, "The request body is too large.", "egress_too_large")
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        else:  # ConnectionClosed before a whole request
            raise ConnectionError


async def serve_connection(reader, writer, rules: Rules) -> None:
    """One request per connection (answered with ``connection: close``)."""
    conn = h11.Connection(h11.SERVER)
    http = http_client()

    async def send(*events) -> None:
        for event in events:
            data = conn.send(event)
            if data:
                writer.write(data)
        await writer.drain()

    async def refuse(refusal: Refusal) -> None:
        body = json.dumps({"error": refusal.code, "message": refusal.message}).encode()
        head = [("content-type", "application/json"), ("connection", "close"),
                ("content-length", str(len(body))), ("x-egress-refused", refusal.code)]  # fmt: skip
        await send(h11.Response(status_code=refusal.status, headers=head), h11.Data(data=body),
                   h11.EndOfMessage())  # fmt: skip

    try:
        try:
            request, body = await _read_request(conn, reader, rules.max_request_bytes)
            url = httpx.URL(request.target.decode("latin-1"))
            if not url.host:
                raise Refusal(400, "Send absolute URLs through the proxy.")
            target, extra, extensions = await _destination(url, rules)
        except Refusal as refusal:
            logger.info("egress_refused status=%s %s", refusal.status, refusal.message)
            await refuse(refusal)
            return
        except (h11.RemoteProtocolError, httpx.InvalidURL, UnicodeError, ValueError):
            await refuse(Refusal(400, "Not an HTTP request the proxy understands."))
            return
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers
            if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        headers += list(extra.items())
        outgoing = http.build_request(
            request.method.decode("ascii"), target, headers=headers, content=body,
            extensions=extensions,
        )  # fmt: skip
        try:
            response = await http.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            # The network's details stay in the operator's log (no port scanning through it).
            logger.info("egress_failed host=%s error=%r", url.host, exc)
            await refuse(Refusal(502, f"Could not reach {url.host}.", "egress_failed"))
            return
        try:
            head = [(k, v) for k, v in response.headers.multi_items() if k not in HOP_BY_HOP]
            head.append(("connection", "close"))
            await send(h11.Response(status_code=response.status_code, headers=head))
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > rules.max_response_bytes:
                    break  # cut short: the function sees a truncated body, not a hang
                await send(h11.Data(data=chunk))
            else:
                await send(h11.EndOfMessage())
        finally:
            await response.aclose()
    except (ConnectionError, TimeoutError, h11.LocalProtocolError, httpx.HTTPError):
        pass  # either side went away mid-answer: the function sees a cut connection
    finally:
        writer.close()
