"""One public port, as ``make run`` and production serve the platform: nginx
(deploy/nginx/platform.conf) sends HTTP to gunicorn (WSGI, gthread) and websockets to uvicorn
(ASGI) (``scripts/devstack.py serve``)."""

import asyncio
import json
import re
import urllib.request

import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from platform_site.routing import websocket_urlpatterns
from scripts import devstack
from tenants import services as tenant_services
from tests.factories import UserFactory
from tests.servers import free_port, wait_for_port
from tests.tokens import access_token


def _locations(site: str) -> dict[str, str]:
    """location prefix (or ``~ regex``) -> the upstream it proxies to."""
    found = re.findall(r"location\s+((?:~\s+)?\S+)\s*\{[^}]*?proxy_pass\s+http://(\w+);", site)
    return dict(found)


def _upstream(locations: dict[str, str], path: str) -> str:
    """What nginx picks for ``path``: a matching regex location, else the longest prefix."""
    for location, upstream in locations.items():
        if location.startswith("~") and re.match(location[1:].strip().strip('"'), path):
            return upstream
    prefix = max((p for p in locations if not p.startswith("~") and path.startswith(p)), key=len)
    return locations[prefix]


def _sample_path(pattern: str) -> str:
    """A request path a websocket route's pattern matches (a regex route's groups filled)."""
    text = re.sub(r"\(\?P<\w+>\[a-z\]\{(\d+)\}\)", lambda m: "a" * int(m[1]), pattern)
    return "/" + text.removeprefix("^").removesuffix("\\Z")


def test_every_websocket_route_goes_to_uvicorn_and_the_rest_to_gunicorn():
    locations = _locations(devstack.NGINX_SITE.read_text())
    assert locations["/"] == "platform_http"
    for route in websocket_urlpatterns:
        path = _sample_path(str(route.pattern))
        assert "(" not in path, path
        assert _upstream(locations, path) == "platform_ws", path
    ws_prefixes = [
        p for p, upstream in locations.items() if upstream == "platform_ws" and p[0] != "~"
    ]
    # No HTTP route of the URL conf is under a websocket prefix (it would reach uvicorn).
    from django.urls import get_resolver

    for pattern in get_resolver().url_patterns:
        assert not any(("/" + str(pattern.pattern)).startswith(p) for p in ws_prefixes)


def _location_blocks(site: str) -> dict[str, str]:
    return dict(re.findall(r"location\s+((?:~\s+)?\S+)\s*\{([^}]*)\}", site))


def test_function_answers_stream_through_unbuffered_in_both_url_forms():
    site = devstack.NGINX_SITE.read_text()
    locations, blocks = _locations(site), _location_blocks(site)
    for path in ("/functions/v1/hello-world", "/p/" + "a" * 20 + "/functions/v1/hello-world"):
        assert _upstream(locations, path) == "platform_http", path
        (location,) = [
            loc for loc in blocks if "functions/v1" in loc
            and (re.match(loc[1:].strip().strip('"'), path) if loc[0] == "~"
                 else path.startswith(loc))
        ]  # fmt: skip
        assert "proxy_buffering off;" in blocks[location], location
        assert "proxy_request_buffering off;" in blocks[location], location


def test_supabase_realtime_goes_to_uvicorn_in_both_url_forms_and_nothing_else_of_p():
    locations = _locations(devstack.NGINX_SITE.read_text())
    ref = "a" * 20
    for path in ("/realtime/v1/websocket", f"/p/{ref}/realtime/v1/websocket"):
        assert _upstream(locations, path) == "platform_ws", path
    for path in (f"/p/{ref}/rest/v1/todos", f"/p/{ref}/auth/v1/token", f"/p/{ref}/realtimes"):
        assert _upstream(locations, path) == "platform_http", path


def test_the_site_file_gets_this_runs_addresses():
    site = devstack.nginx_site(host="127.0.0.1", port=8123, http_port=9001, ws_port=9002)
    assert "listen 127.0.0.1:8123;" in site and "listen 80;" not in site
    assert "server 127.0.0.1:9001;" in site and "server 127.0.0.1:9002;" in site


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_api_call_and_a_websocket_through_the_public_port(committed, tmp_path):
    user = UserFactory()
    tenant_services.org_create(actor=user, name="Org A", slug="org-a")
    token = access_token(user)
    env = {
        **devstack.os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "SECRET_KEY": settings.SECRET_KEY,  # tokens made here are valid there
    }
    port = free_port()
    with open(tmp_path / "servers.log", "wb") as log:
        processes = devstack.serve(env, "127.0.0.1", port, tmp_path / "nginx", output=log)
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        request = urllib.request.Request(
            base + "/api/v1/orgs/", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert "nginx" in response.headers["Server"]
            slugs = [org["slug"] for org in json.loads(response.read())]
        assert slugs == ["org-a"]

        async def socket():
            async with connect(
                f"ws://127.0.0.1:{port}/realtime/v1/websocket",
                origin="http://127.0.0.1",
                subprotocols=["platform.realtime.v1"],
            ) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                return json.loads(await asyncio.wait_for(ws.recv(), 10))

        assert asyncio.run(socket())["type"] == "ready"
    finally:
        for process in reversed(processes):
            devstack.stop_group(process)
    assert all(process.poll() is not None for process in processes)


def test_instances_behind_one_front_are_the_upstreams_servers():
    site = devstack.nginx_site(host="127.0.0.1", port=8123, http_port=[9001, 9003],
                               ws_port=[9002, 9004])  # fmt: skip
    upstreams = dict(re.findall(r"upstream (\w+) \{([^}]*)\}", site))
    servers = {
        name: re.findall(r"server 127\.0\.0\.1:(\d+);", body) for name, body in upstreams.items()
    }
    assert servers == {"platform_http": ["9001", "9003"], "platform_ws": ["9002", "9004"]}
    # A request one instance could not answer goes to the next, but never a non-idempotent
    # one that may have run there (nginx's default, kept).
    assert re.search(r"^\s*proxy_next_upstream error timeout;", site, re.MULTILINE)
    assert "non_idempotent" not in site
