"""The realtime flow as a new user meets it, against a live server (uvicorn): register and log
in over HTTP, create an org, a project and a collection, connect with the ``websockets``
client (which sends no ``Origin``), authenticate, subscribe by collection name, stay quiet for
20 seconds (longer than every Redis timeout), write a record over the API, receive it."""

import asyncio
import json
import urllib.request

import pytest
from websockets.asyncio.client import connect

from tests.servers import AppServer

pytestmark = pytest.mark.slow

QUIET_SECONDS = 20


def _call(base: str, method: str, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def server(committed, tmp_path):
    app = AppServer(log_path=tmp_path / "app.log").start()
    yield app
    app.stop()


def test_a_new_user_subscribes_by_name_waits_and_receives_a_write(server, tmp_path):
    base = server.url
    account = {"email": "new@example.com", "password": "a long passphrase for tests"}
    _call(base, "POST", "/api/v1/auth/register/", account)
    token = _call(base, "POST", "/api/v1/auth/login/", account)["access"]
    org = _call(base, "POST", "/api/v1/orgs/", {"name": "Acme"}, token)["slug"]
    project = _call(base, "POST", f"/api/v1/orgs/{org}/projects/", {"name": "web"}, token)["id"]
    collections = f"/api/v1/orgs/{org}/projects/{project}/collections/"
    _call(base, "POST", collections, {"name": "notes"}, token)

    async def body():
        async with connect(server.ws_url + "/realtime/v1/websocket") as ws:
            assert "origin" not in {k.lower() for k in ws.request.headers}

            async def reply():
                return json.loads(await asyncio.wait_for(ws.recv(), 10))

            await ws.send(json.dumps({"type": "auth", "token": token}))
            ready = await reply()
            await ws.send(json.dumps(
                {"type": "subscribe", "org": org, "project": project, "collection": "notes"}
            ))  # fmt: skip
            subscribed = await reply()
            await asyncio.sleep(QUIET_SECONDS)
            written = await asyncio.to_thread(
                _call, base, "POST", f"{collections}notes/records/",
                {"data": {"text": "hello after a quiet spell"}}, token,
            )  # fmt: skip
            received = await reply()
            return ready, subscribed, written, received

    ready, subscribed, written, received = asyncio.run(body())
    assert ready["type"] == "ready"
    assert subscribed["type"] == "subscribed" and subscribed["project"] == project
    assert received["type"] == "change" and received["op"] == "insert"
    assert received["subscription"] == subscribed["subscription"]
    assert received["id"] == written["id"]
    assert received["record"]["text"] == "hello after a quiet spell"
    server.stop()
    assert "Exception in ASGI application" not in (tmp_path / "app.log").read_text()
