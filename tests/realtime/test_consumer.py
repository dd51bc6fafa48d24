"""The realtime websocket in process: the real ASGI stack (origin check, routing, consumer) and
the real channels-redis layer on the test Redis; events are published inside real
transactions and leave on commit."""

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from platform_site.asgi import application
from realtime import events
from tenants import services
from tenants.context import TenantContext, tenant_context
from tenants.models import Membership
from tests.realtime.communicator import WebsocketCommunicator

PATH = "/realtime/v1/websocket"
ORIGIN = [(b"origin", b"http://127.0.0.1")]
COLLECTION = "tasks"


def run(coro_fn):
    """Run on a new event loop with a new channel layer: channels-redis keeps per-loop state
    (its receive lock) that must not leak from one test's loop into the next."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    return async_to_sync(coro_fn)()


async def connect(token: str | None = None, *, via="message", path=PATH) -> WebsocketCommunicator:
    protocols = ["platform.realtime.v1"]
    if token and via == "subprotocol":
        protocols.append(f"bearer.{token}")
    ws = WebsocketCommunicator(application, path, headers=ORIGIN, subprotocols=protocols)
    connected, _ = await ws.connect()
    assert connected
    if token and via == "message":
        await ws.send_json_to({"type": "auth", "token": token})
    if token:
        assert (await ws.receive_json_from(timeout=5))["type"] == "ready"
    return ws


async def subscribe(ws, org, collection=COLLECTION, **extra) -> str:
    await ws.send_json_to({"type": "subscribe", "org": org, "collection": collection, **extra})
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


def change(org, op, rid, owner=None, owner_only=False, collection=COLLECTION, **fields):
    return {
        "org_id": org.id,
        "collection_id": collection,
        "op": op,
        "record": {"id": rid, **fields},
        "owner_id": owner.pk if owner else None,
        "owner_only": owner_only,
    }


def test_subscriber_gets_its_orgs_changes_in_commit_order_and_nothing_else(world):
    async def body():
        ws = await connect(world.token(world.viewer_a))
        sub = await subscribe(ws, "org-a")
        await sync_to_async(commit)(change(world.org_a, "insert", 1, title="a"))
        await sync_to_async(commit)(change(world.org_b, "insert", 99, title="secret"))
        await sync_to_async(commit)(change(world.org_a, "insert", 2), rollback=True)
        await sync_to_async(commit)(
            change(world.org_a, "update", 1, title="b"),
            change(world.org_a, "insert", 3, title="c"),
        )
        await sync_to_async(commit)(change(world.org_a, "delete", 1))
        await sync_to_async(commit)(change(world.org_a, "insert", 4, collection="other"))
        got = await drain(ws)
        await ws.disconnect()
        return sub, got

    sub, got = run(body)
    assert [(m["op"], m["id"]) for m in got] == [
        ("insert", 1), ("update", 1), ("insert", 3), ("delete", 1),
    ]  # fmt: skip
    assert all(m["subscription"] == sub and m["collection"] == COLLECTION for m in got)
    assert got[1]["record"] == {"id": 1, "title": "b"}
    times = [m["committed_at"] for m in got]
    assert times == sorted(times)
    assert "secret" not in json.dumps(got)


def test_owner_only_rows_reach_only_their_owner_and_org_admins(world):
    async def body():
        sockets = {}
        for name in ("viewer_a", "viewer2_a", "admin_a", "owner_a"):
            sockets[name] = await connect(world.token(getattr(world, name)))
            await subscribe(sockets[name], str(world.org_a.id))
        await sync_to_async(commit)(
            change(world.org_a, "insert", 10, owner=world.viewer_a, owner_only=True),
            change(world.org_a, "insert", 11, owner=world.viewer2_a, owner_only=True),
            change(world.org_a, "insert", 12, owner=world.viewer2_a, owner_only=False),
        )
        got = {name: [m["id"] for m in await drain(ws)] for name, ws in sockets.items()}
        for ws in sockets.values():
            await ws.disconnect()
        return got

    got = run(body)
    assert got == {
        "viewer_a": [10, 12],
        "viewer2_a": [11, 12],
        "admin_a": [10, 11, 12],
        "owner_a": [10, 11, 12],
    }


def test_unknown_access_rule_fails_closed(world):
    async def body():
        ws = await connect(world.token(world.viewer2_a))
        await subscribe(ws, "org-a")
        event = change(world.org_a, "insert", 20, owner=world.viewer_a)
        del event["owner_only"]
        await sync_to_async(commit)(event)
        got = await drain(ws)
        await ws.disconnect()
        return got

    assert run(body) == []


def test_filters_on_published_changes(world):
    """Any publisher's events are filtered on their ``record`` (the data app's, in
    test_filters.py, on the record's data)."""

    async def body():
        ws = await connect(world.token(world.viewer_a), via="subprotocol")
        as_object = await subscribe(ws, "org-a", filter={"status": "open", "n": 2})
        as_list = await subscribe(ws, "org-a", filter=['status:eq:"done"', "id:lt:4"])
        await sync_to_async(commit)(
            change(world.org_a, "insert", 1, status="open", n=2),
            change(world.org_a, "insert", 2, status="open", n=3),
            change(world.org_a, "insert", 3, status="done", n=2),
            change(world.org_a, "insert", 4, status="done"),
            change(world.org_a, "insert", 5),
        )
        got = await drain(ws)
        await ws.send_json_to({"type": "subscribe", "org": "org-a", "collection": "t", "filter": 5})
        bad = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return as_object, as_list, got, bad

    as_object, as_list, got, bad = run(body)
    assert [(m["subscription"], m["id"]) for m in got] == [(as_object, 1), (as_list, 3)]
    assert bad["type"] == "error" and bad["code"] == "invalid"


def test_authentication_is_required_and_never_taken_from_the_url(world):
    token = world.token(world.viewer_a)

    async def body():
        results = {}
        ws = await connect(path=f"{PATH}?token={token}")
        await ws.send_json_to({"type": "subscribe", "org": "org-a", "collection": "t"})
        results["url_token"] = await ws.receive_output(timeout=5)
        ws = await connect()
        await ws.send_json_to({"type": "auth", "token": token[:-3] + "abc"})
        results["bad_token"] = await ws.receive_output(timeout=5)
        protocols = ["platform.realtime.v1", "bearer.not-a-jwt"]
        ws = WebsocketCommunicator(application, PATH, headers=ORIGIN, subprotocols=protocols)
        results["bad_subprotocol"] = await ws.connect()
        ws = WebsocketCommunicator(application, PATH, subprotocols=protocols)
        results["no_origin"] = await ws.connect()
        return results

    results = run(body)
    assert results["url_token"] == {"type": "websocket.close", "code": 4401}
    assert results["bad_token"] == {"type": "websocket.close", "code": 4401}
    assert results["bad_subprotocol"] == (False, 4401)
    assert results["no_origin"][0] is False


def test_subscribing_to_another_org_is_not_found(world):
    async def body():
        ws = await connect(world.token(world.viewer_a))
        replies = []
        for org in ("org-b", str(world.org_b.id), "no-such-org"):
            await ws.send_json_to({"type": "subscribe", "org": org, "collection": "t"})
            replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "join", "org": "org-b", "channel": "room"})
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return replies

    assert [r["code"] for r in run(body)] == ["not_found"] * 4


def test_removed_member_stops_receiving(world, settings):
    settings.REALTIME_MEMBERSHIP_TTL = 0  # re-check PostgreSQL for every event

    def remove_viewer():
        with tenant_context(TenantContext(org_id=world.org_a.id, user_id=world.owner_a.pk)):
            owner = Membership.objects.select_related("org").get(user=world.owner_a)
            target = Membership.objects.get(user=world.viewer_a)
            services.member_remove(membership=owner, target=target)

    async def body():
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a")
        await sync_to_async(commit)(change(world.org_a, "insert", 1))
        before = await drain(ws)
        await sync_to_async(remove_viewer)()
        await sync_to_async(commit)(change(world.org_a, "insert", 2))
        after = await drain(ws)
        await ws.disconnect()
        return before, after

    before, after = run(body)
    assert [m["id"] for m in before] == [1] and after == []


def test_revoking_a_user_or_a_session_closes_its_sockets(world):
    async def body():
        token1 = world.token(world.viewer_a)
        s1 = await connect(token1)
        s2 = await connect(world.token(world.viewer_a), via="subprotocol")
        other = await connect(world.token(world.viewer2_a))
        await sync_to_async(events.disconnect_session)(str(AccessToken(token1)["sid"]))
        closed_s1 = await s1.receive_output(timeout=5)
        s2_alive = await drain(s2, timeout=0.3)
        await sync_to_async(events.disconnect_user)(world.viewer_a.pk)
        closed_s2 = await s2.receive_output(timeout=5)
        other_alive = await drain(other, timeout=0.3)
        await other.send_json_to({"type": "heartbeat"})
        pong = await other.receive_json_from(timeout=5)
        await other.disconnect()
        return closed_s1, s2_alive, closed_s2, other_alive, pong

    closed_s1, s2_alive, closed_s2, other_alive, pong = run(body)
    assert closed_s1 == {"type": "websocket.close", "code": 4001}
    assert s2_alive == [] and other_alive == []
    assert closed_s2 == {"type": "websocket.close", "code": 4001}
    assert pong["type"] == "heartbeat"


def test_broadcast_and_presence_within_an_org(world):
    async def body():
        a = await connect(world.token(world.viewer_a))
        b = await connect(world.token(world.admin_a))
        outsider = await connect(world.token(world.owner_b))
        await a.send_json_to(
            {"type": "join", "org": "org-a", "channel": "room", "presence": {"x": 1}}
        )
        state_a = await a.receive_json_from(timeout=5)
        await drain(a, timeout=0.3)  # a's own join diff
        await b.send_json_to(
            {"type": "join", "org": "org-a", "channel": "room", "presence": {"x": 2}}
        )
        state_b = await b.receive_json_from(timeout=5)
        join_seen_by_a = await a.receive_json_from(timeout=5)
        await drain(b, timeout=0.3)
        await outsider.send_json_to({"type": "join", "org": "org-b", "channel": "room"})
        await drain(outsider, timeout=0.3)
        await b.send_json_to(
            {"type": "broadcast", "org": "org-a", "channel": "room", "event": "cursor",
             "payload": {"pos": [3, 4]}}
        )  # fmt: skip
        at_a = await a.receive_json_from(timeout=5)
        at_b = await drain(b, timeout=0.3)
        at_outsider = await drain(outsider, timeout=0.3)
        await outsider.send_json_to(
            {"type": "broadcast", "org": "org-a", "channel": "room", "event": "x", "payload": 1}
        )
        refused = await outsider.receive_json_from(timeout=5)
        await b.disconnect()
        leave_seen_by_a = await a.receive_json_from(timeout=5)
        for ws in (a, outsider):
            await ws.disconnect()
        return state_a, state_b, join_seen_by_a, at_a, at_b, at_outsider, refused, leave_seen_by_a

    state_a, state_b, join, at_a, at_b, at_outsider, refused, leave = run(body)
    assert [p["user_id"] for p in state_a["presences"]] == [world.viewer_a.pk]
    assert sorted((p["user_id"], p["meta"]["x"]) for p in state_b["presences"]) == sorted(
        [(world.viewer_a.pk, 1), (world.admin_a.pk, 2)]
    )
    assert join["type"] == "presence_diff" and join["joins"][0]["user_id"] == world.admin_a.pk
    assert at_a == {
        "type": "broadcast", "channel": "room", "event": "cursor", "payload": {"pos": [3, 4]},
        "from_user": world.admin_a.pk,
    }  # fmt: skip
    assert at_b == [] and at_outsider == []  # no echo by default; other orgs hear nothing
    assert refused["code"] == "not_joined"
    assert leave["type"] == "presence_diff" and leave["leaves"][0]["user_id"] == world.admin_a.pk


def test_publish_change_rejects_unknown_ops(world):
    with pytest.raises(ValueError):
        events.publish_change(org_id=world.org_a.id, collection_id="t", op="upsert", record={})


def test_signal_receiver_publishes_like_the_data_app_will(world):
    """The data app sends ``record_changed`` from on_commit; the receiver publishes at once."""
    from realtime.receivers import relay_record_change

    async def body():
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a")

        def data_app_commit():
            with transaction.atomic():
                transaction.on_commit(
                    lambda: relay_record_change(
                        None, org_id=world.org_a.id, project_id=None, collection_id=COLLECTION,
                        record_id=7, owner_id=world.viewer_a.pk, owner_only=False, op="create",
                        data={"title": "mine"},
                    )
                )  # fmt: skip

        await sync_to_async(data_app_commit)()
        got = await drain(ws)
        await ws.disconnect()
        return got

    got = run(body)
    assert [(m["op"], m["id"], m["record"]["title"]) for m in got] == [("insert", 7, "mine")]


def test_publishing_while_redis_is_unavailable_does_not_break_the_write(world):
    from cache.breaker import redis_breaker

    redis_breaker.open()
    try:
        commit(change(world.org_a, "insert", 1))  # on_commit send fails inside the breaker
        assert events.disconnect_user(world.viewer_a.pk) is False
    finally:
        redis_breaker.close()
    assert events.disconnect_user(world.viewer_a.pk) is True
