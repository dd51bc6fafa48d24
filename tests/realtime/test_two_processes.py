"""Realtime across two app server processes (uvicorn, platform_site.asgi) sharing the
channels-redis layer: sockets held by one process receive what another produced, and a socket
of a process that was killed resumes on the other from its last cursor."""

import asyncio
import json
import signal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from websockets.asyncio.client import connect

from tests.realtime.sockets import change, commit
from tests.servers import AppServer

pytestmark = pytest.mark.slow


@pytest.fixture
def two_servers(world, tmp_path):
    servers = [
        AppServer(
            env={"PLATFORM_INSTANCE": f"app{i + 1}"},
            log_path=tmp_path / f"app{i}.log",
            log_level="info",
        ).start()
        for i in range(2)
    ]
    yield servers
    for server in servers:
        server.stop()


async def open_socket(server, token, *, instance=None):
    ws = await connect(
        server.ws_url + "/realtime/v1/websocket",
        origin="http://127.0.0.1",
        subprotocols=["platform.realtime.v1"],
    )
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready"
    assert instance is None or ready["instance"] == instance, ready
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


@pytest.mark.timeout(120)  # two app servers start first
def test_a_socket_of_a_killed_server_resumes_on_the_other_from_its_cursor(world, two_servers):
    """The server holding viewer_a's socket is SIGKILLed; changes are committed while the
    client reconnects to the other server, which replays exactly the missed visible ones (not
    viewer2_a's owner-only row), then the live ones."""
    server_a, server_b = two_servers
    private = world.private_a
    mine = {"owner": world.viewer_a, "owner_only": True}
    token = world.token(world.viewer_a)
    subscribe = {"type": "subscribe", "org": "org-a", "collection": str(private.id)}

    async def body():
        on_a = await open_socket(server_a, token, instance="app1")
        await request(on_a, subscribe, "subscribed")
        await sync_to_async(commit)(change(private, "insert", 1, **mine))
        (last,) = await collect(on_a)
        server_a.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(server_a.process.wait, 30)
        try:
            await asyncio.wait_for(on_a.recv(), 10)
            lost = False
        except Exception:  # ConnectionClosed: the server is gone
            lost = True
        await sync_to_async(commit)(
            change(private, "insert", 2, owner=world.viewer2_a, owner_only=True)
        )
        await sync_to_async(commit)(change(private, "insert", 3, **mine))
        await sync_to_async(commit)(change(private, "delete", 1, **mine))
        on_b = await open_socket(server_b, token, instance="app2")
        await request(on_b, {**subscribe, "since": last["cursor"]}, "subscribed")
        replayed = await collect(on_b)
        await sync_to_async(commit)(change(private, "insert", 4, **mine))
        live = await collect(on_b)
        await on_b.close()
        return last, lost, replayed, live

    last, lost, replayed, live = async_to_sync(body)()
    assert lost and (last["op"], last["id"]) == ("insert", 1)
    assert [(m["op"], m["id"]) for m in replayed] == [("insert", 3), ("delete", 1)]
    assert [(m["op"], m["id"]) for m in live] == [("insert", 4)]
