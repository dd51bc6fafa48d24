"""A function's way out: nothing but its outbound allow-list, through the supervisor's egress
proxy (``functions.egress``), and never the platform's own services. Once through a real
worker (Deno's permissions hold the same list), once against the proxy alone (the gate that
holds whatever code runs inside the sandbox)."""

import asyncio
import http.server
import ipaddress
import json
import threading

import httpx
import pytest
from django.conf import settings as django_settings

from functions import egress
from tests.servers import free_port

FETCHER = """
Deno.serve(async (req: Request) => {
  const { url } = await req.json();
  try {
    const response = await fetch(url);
    return Response.json({ status: response.status, body: await response.text() });
  } catch (error) {
    return Response.json({ error: error.name, message: String(error.message) });
  }
});
"""


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {self.headers['host']}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def pg_port() -> int:
    return int(django_settings.DATABASES["default"]["PORT"])


def test_only_the_allow_list_is_reachable_from_a_function(supervisor, receiver):
    transport = httpx.HTTPTransport(uds=supervisor.socket)
    with httpx.Client(transport=transport, base_url="http://s", timeout=60) as client:
        spec = {"project": "egress", "source": FETCHER, "env": {},
                "egress": [f"127.0.0.1:{receiver}", "127.0.0.1"]}  # fmt: skip
        assert client.put("/workers/egress-1", json=spec).status_code == 204

        def fetch(url: str) -> dict:
            answer = client.post("/invoke/egress-1", headers={"x-fn-invocation": url},
                                 content=json.dumps({"url": url}))  # fmt: skip
            return answer.json()

        assert fetch(f"http://127.0.0.1:{receiver}/x") == {
            "status": 200, "body": f"hello from 127.0.0.1:{receiver}",
        }  # fmt: skip
        refused = fetch("http://example.com/")
        assert refused["error"] == "NotCapable"
        assert 'Requires net access to "example.com:80"' in refused["message"]
        # "127.0.0.1" alone means its ports 80 and 443: never PostgreSQL's.
        postgres = fetch(f"http://127.0.0.1:{pg_port()}/")
        assert postgres["error"] == "NotCapable", postgres


def proxied(rules: egress.Rules, target: str, tmp_path) -> tuple[int, dict | bytes]:
    """One request in the form Deno's Unix proxy sends it, answered by the proxy alone."""

    async def run():
        path = str(tmp_path / "egress.sock")
        server = await asyncio.start_unix_server(
            lambda r, w: egress.serve_connection(r, w, rules), path=path
        )
        try:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(f"GET {target} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
            raw = await reader.read()
            writer.close()
        finally:
            server.close()
            await egress.close_http_client()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    return asyncio.run(run())


def test_the_proxy_refuses_what_is_not_on_the_list_or_not_public(receiver, tmp_path):
    listed = f"127.0.0.1:{receiver}"
    loopback = egress.Rules(
        hosts=egress.allowed_pairs([listed]), networks=(ipaddress.ip_network("127.0.0.1/32"),)
    )
    assert proxied(loopback, f"http://{listed}/", tmp_path)[0] == 200
    status, body = proxied(loopback, f"http://127.0.0.1:{pg_port()}/", tmp_path)
    assert (status, body["error"]) == (403, "egress_refused")
    assert "not on this function's outbound allow-list" in body["message"]
    # Listed, but loopback is not a network the operator allowed (production's default).
    public_only = egress.Rules(hosts=egress.allowed_pairs([listed]))
    status, body = proxied(public_only, f"http://{listed}/", tmp_path)
    assert (status, body["error"]) == (403, "egress_refused")
    assert "does not resolve to an address functions may reach" in body["message"]
    # The platform: its client API only, never the developer API.
    platform = egress.Rules(hosts=frozenset(), platform_url=f"http://{listed}")
    assert proxied(platform, "http://platform.internal/client/v1/x", tmp_path)[0] == 200
    status, body = proxied(platform, "http://platform.internal/api/v1/orgs/", tmp_path)
    assert (status, body["error"]) == (403, "egress_refused")


@pytest.mark.parametrize(
    "entry", ["", "a b", ".a", "a..b", "-a", "a_b", "host:0", "host:99999", "platform.internal"]
)
def test_a_bad_allow_list_entry_is_refused(entry):
    with pytest.raises(egress.BadEntry):
        egress.parse_entry(entry)
