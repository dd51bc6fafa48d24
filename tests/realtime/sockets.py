"""Test helpers: sockets on the real ASGI application, and changes published in real
transactions (they leave on commit)."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import transaction

from platform_site.asgi import application
from realtime import events
from tests.realtime.communicator import WebsocketCommunicator

PATH = "/realtime/v1/websocket"
ORIGIN = [(b"origin", b"http://127.0.0.1")]


def run(coro_fn):
    """Run on a new event loop with a new channel layer: channels-redis keeps per-loop state
    (its receive lock) that must not leak from one test's loop into the next.

    What the test left running (a consumer whose handshake was refused, say) is cancelled and
    awaited inside that loop, while this thread still runs the consumers' thread-sensitive
    database calls: left to the loop's shutdown, a consumer cleaning up through one would wait
    for this thread forever."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)

    async def main():
        try:
            return await coro_fn()
        finally:
            await _finish_leftovers()

    return async_to_sync(main)()


async def _finish_leftovers(timeout: float = 10) -> None:
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.wait(leftovers, timeout=timeout)


async def connect(
    token: str | None = None, *, via="message", path=PATH, headers=ORIGIN
) -> WebsocketCommunicator:
    protocols = ["platform.realtime.v1"]
    if token and via == "subprotocol":
        protocols.append(f"bearer.{token}")
    ws = WebsocketCommunicator(application, path, headers=list(headers), subprotocols=protocols)
    connected, _ = await ws.connect()
    assert connected
    if token and via == "message":
        await ws.send_json_to({"type": "auth", "token": token})
    if token:
        assert (await ws.receive_json_from(timeout=5))["type"] == "ready"
    return ws


async def subscribe(ws, org, collection, **extra) -> str:
    """Subscribe to ``collection`` (a Collection: by id; a string: as given)."""
    ref = collection if isinstance(collection, str) else str(collection.id)
    await ws.send_json_to({"type": "subscribe", "org": org, "collection": ref, **extra})
    reply = await ws.receive_json_from(timeout=5)
    assert reply["type"] == "subscribed", reply
    return reply["subscription"]


async def drain(ws, timeout=0.5) -> list[dict]:
    received = []
    while True:
        try:
            received.append(await ws.receive_json_from(timeout=timeout))
        except TimeoutError:
            return received


def commit(*changes, rollback=False):
    """Publish changes inside one real transaction (rolled back when asked)."""

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            for change in changes:
                events.publish_change(**change)
            if rollback:
                raise Rollback
    except Rollback:
        pass


def change(collection, op, rid, *, owner=None, owner_only=False, org=None, **fields):
    """A change event of ``collection`` (in its org unless ``org`` says otherwise)."""
    return {
        "org_id": org.id if org is not None else collection.org_id,
        "collection_id": collection.id,
        "op": op,
        "record": {"id": rid, **fields},
        "owner_id": owner.pk if owner else None,
        "owner_only": owner_only,
    }
