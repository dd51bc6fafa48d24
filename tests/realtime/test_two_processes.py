"""Realtime across two app server processes (uvicorn, platform_site.asgi) sharing the
channels-redis layer: sockets held by one process receive what another produced."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from websockets.asyncio.client import connect

from tests.realtime.sockets import change, commit
from tests.servers import AppServer

pytestmark = pytest.mark.slow


@pytest.fixture
def two_servers(world, tmp_path):
    servers = [
        AppServer(log_path=tmp_path / f"app{i}.log", log_level="info").start() for i in range(2)
    ]
    yield servers
    for server in servers:
        server.stop()


async def open_socket(server, token):
    ws = await connect(
        server.ws_url + "/realtime/v1/websocket",
        origin="http://127.0.0.1",
        subprotocols=["platform.realtime.v1"],
    )
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
    return ws


async def request(ws, message, expect):
    await ws.send(json.dumps(message))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["type"] == expect, reply
    return reply


async def collect(ws, timeout=1.0) -> list[dict]:
    got = []
    while True:
        try:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
        except TimeoutError:
            return got


def test_events_cross_app_server_processes(world, two_servers, tmp_path):
    server_a, server_b = two_servers
    tokens = [world.token(world.viewer_a), world.token(world.admin_a)]

    async def body():
        on_a = await open_socket(server_a, tokens[0])
        on_b = await open_socket(server_b, tokens[1])
        for ws in (on_a, on_b):
            await request(ws, {"type": "subscribe", "org": "org-a", "collection": "tasks",
                               "project": str(world.project_a.id)}, "subscribed")  # fmt: skip
            await request(ws, {"type": "join", "org": "org-a", "channel": "room"},
                          "presence_state")  # fmt: skip
        await collect(on_a, 0.5)  # presence diffs
        await collect(on_b, 0.5)

        # Committed in this (third) process, delivered by both servers.
        await sync_to_async(commit)(
            change(world.tasks_a, "insert", 1, title="one"),
            change(world.tasks_a, "insert", 2, org=world.org_b, title="org b"),
            change(world.tasks_a, "update", 1, title="uno"),
        )
        changes_a, changes_b = await collect(on_a), await collect(on_b)

        # Produced by the process holding socket B, delivered by the process holding A.
        await on_b.send(json.dumps(
            {"type": "broadcast", "org": "org-a", "channel": "room", "event": "ping",
             "payload": {"n": 1}}
        ))  # fmt: skip
        broadcast_at_a = await collect(on_a)

        await sync_to_async(_disconnect_viewer)(world.viewer_a.pk)
        try:
            await asyncio.wait_for(on_a.recv(), 10)
            closed_code = None
        except Exception:  # the connection closed: websockets raises ConnectionClosed
            closed_code = on_a.close_code
        await on_b.close()
        return changes_a, changes_b, broadcast_at_a, closed_code

    changes_a, changes_b, broadcast_at_a, closed_code = async_to_sync(body)()
    expected = [("insert", 1, "one"), ("update", 1, "uno")]
    assert [(m["op"], m["id"], m["record"]["title"]) for m in changes_a] == expected
    assert [(m["op"], m["id"], m["record"]["title"]) for m in changes_b] == expected
    assert [(m["type"], m["event"], m["payload"]) for m in broadcast_at_a] == [
        ("broadcast", "ping", {"n": 1})
    ]
    assert closed_code == 4001
    for server in two_servers:
        server.stop()
    logs = "".join((tmp_path / f"app{i}.log").read_text() for i in range(2))
    assert "/realtime/v1/websocket" in logs  # the access log is on ...
    assert not any(token in logs for token in tokens)  # ... and no token reaches it


def _disconnect_viewer(user_id):
    from realtime.events import disconnect_user

    disconnect_user(user_id)
