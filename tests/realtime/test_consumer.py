"""The realtime websocket in process: the real ASGI stack (origin check, routing, consumer) and
the real channels-redis layer on the test Redis; events are published inside real
transactions and leave on commit. Subscriptions name real record collections."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from platform_site.asgi import application
from realtime import events
from tests.realtime.communicator import WebsocketCommunicator
from tests.realtime.sockets import ORIGIN, PATH, change, commit, connect, drain, run, subscribe


def test_subscriber_gets_its_orgs_changes_in_commit_order_and_nothing_else(world):
    tasks = world.tasks_a

    async def body():
        ws = await connect(world.token(world.viewer_a))
        sub = await subscribe(ws, "org-a", tasks)
        await sync_to_async(commit)(change(tasks, "insert", 1, title="a"))
        await sync_to_async(commit)(change(tasks, "insert", 99, org=world.org_b, title="secret"))
        await sync_to_async(commit)(change(tasks, "insert", 2), rollback=True)
        await sync_to_async(commit)(
            change(tasks, "update", 1, title="b"),
            change(tasks, "insert", 3, title="c"),
        )
        await sync_to_async(commit)(change(tasks, "delete", 1))
        await sync_to_async(commit)(change(world.private_a, "insert", 4))
        got = await drain(ws)
        await ws.disconnect()
        return sub, got

    sub, got = run(body)
    assert [(m["op"], m["id"]) for m in got] == [
        ("insert", 1), ("update", 1), ("insert", 3), ("delete", 1),
    ]  # fmt: skip
    assert all(m["subscription"] == sub and m["collection"] == str(tasks.id) for m in got)
    assert got[1]["record"] == {"id": 1, "title": "b"}
    times = [m["committed_at"] for m in got]
    assert times == sorted(times)
    assert "secret" not in json.dumps(got)


def test_owner_only_rows_reach_only_their_owner_and_org_admins(world):
    private = world.private_a

    async def body():
        sockets = {}
        for name in ("viewer_a", "viewer2_a", "admin_a", "owner_a"):
            sockets[name] = await connect(world.token(getattr(world, name)))
            await subscribe(sockets[name], str(world.org_a.id), private)
        await sync_to_async(commit)(
            change(private, "insert", 10, owner=world.viewer_a, owner_only=True),
            change(private, "insert", 11, owner=world.viewer2_a, owner_only=True),
            change(private, "insert", 12, owner=world.viewer2_a, owner_only=False),
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


def test_every_change_says_whether_its_row_is_owner_only(world):
    """No guessing: a publisher that does not say is refused before anything is sent."""
    event = change(world.private_a, "insert", 20, owner=world.viewer_a)
    for flag in (None, "yes", 1):
        with pytest.raises(TypeError):
            commit({**event, "owner_only": flag})
    del event["owner_only"]
    with pytest.raises(TypeError):
        commit(event)


def test_filters_on_published_changes(world):
    """Any publisher's events are filtered on their ``record`` (the data app's, in
    test_filters.py, on the record's data)."""
    tasks = world.tasks_a

    async def body():
        ws = await connect(world.token(world.viewer_a), via="subprotocol")
        as_object = await subscribe(ws, "org-a", tasks, filter={"status": "open", "n": 2})
        as_list = await subscribe(ws, "org-a", tasks, filter=['status:eq:"done"', "id:lt:4"])
        await sync_to_async(commit)(
            change(tasks, "insert", 1, status="open", n=2),
            change(tasks, "insert", 2, status="open", n=3),
            change(tasks, "insert", 3, status="done", n=2),
            change(tasks, "insert", 4, status="done"),
            change(tasks, "insert", 5),
        )
        got = await drain(ws)
        await ws.send_json_to(
            {"type": "subscribe", "org": "org-a", "collection": str(tasks.id), "filter": 5}
        )
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
        await ws.send_json_to(
            {"type": "subscribe", "org": "org-a", "collection": str(world.tasks_a.id)}
        )
        results["url_token"] = await ws.receive_output(timeout=5)
        await ws.disconnect()
        ws = await connect()
        await ws.send_json_to({"type": "auth", "token": token[:-3] + "abc"})
        results["bad_token"] = await ws.receive_output(timeout=5)
        await ws.disconnect()
        protocols = ["platform.realtime.v1", "bearer.not-a-jwt"]
        ws = WebsocketCommunicator(application, PATH, headers=ORIGIN, subprotocols=protocols)
        results["bad_subprotocol"] = await ws.connect()
        await ws.disconnect()
        return results

    results = run(body)
    assert results["url_token"] == {"type": "websocket.close", "code": 4401}
    assert results["bad_token"] == {"type": "websocket.close", "code": 4401}
    assert results["bad_subprotocol"] == (False, 4401)


def test_subscribing_to_another_org_is_not_found(world):
    async def body():
        ws = await connect(world.token(world.viewer_a))
        replies = []
        for org in ("org-b", str(world.org_b.id), "no-such-org"):
            await ws.send_json_to(
                {"type": "subscribe", "org": org, "collection": str(world.tasks_a.id)}
            )
            replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "join", "org": "org-b", "channel": "room"})
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return replies

    assert [r["code"] for r in run(body)] == ["not_found"] * 4


def test_a_collection_is_named_as_in_the_data_api_or_by_id(world, client_for):
    """By name within its project (the data API's URL), or by id; anything the user cannot
    see through the data API is not found, so no subscription waits on nothing."""
    project = str(world.project_a.id)
    org_b = client_for(world.owner_b)
    b_project = org_b.post("/api/v1/orgs/org-b/projects/", {"name": "b"}, format="json").json()
    response = org_b.post(
        f"/api/v1/orgs/org-b/projects/{b_project['id']}/collections/",
        {"name": "tasks"},
        format="json",
    )
    assert response.status_code == 201, response.content
    b_tasks = response.json()["id"]
    writer = client_for(world.owner_a)

    async def body():
        ws = await connect(world.token(world.viewer_a))
        replies = {}
        for case, fields in {
            "by_name": {"project": project, "collection": "tasks"},
            "by_id": {"collection": str(world.tasks_a.id)},
            "name_without_project": {"collection": "tasks"},
            "unknown_name": {"project": project, "collection": "nope"},
            "unknown_id": {"collection": str(uuid.uuid4())},
            "unknown_project": {"project": str(uuid.uuid4()), "collection": "tasks"},
            "not_a_project_id": {"project": "app", "collection": "tasks"},
            "id_in_another_project": {
                "project": str(uuid.uuid4()),
                "collection": str(world.tasks_a.id),
            },
            "another_orgs_collection": {"collection": b_tasks},
            "another_orgs_project": {"project": b_project["id"], "collection": "tasks"},
            "not_a_string": {"collection": 7},
        }.items():
            await ws.send_json_to({"type": "subscribe", "org": "org-a", **fields})
            replies[case] = await ws.receive_json_from(timeout=5)
        response = await sync_to_async(writer.post)(
            f"/api/v1/orgs/org-a/projects/{project}/collections/tasks/records/",
            {"data": {"title": "named"}},
            format="json",
        )
        got = await drain(ws, timeout=1)
        await ws.disconnect()
        return replies, response.json()["id"], got

    replies, record_id, got = run(body)
    by_name, by_id = replies.pop("by_name"), replies.pop("by_id")
    assert by_name["type"] == by_id["type"] == "subscribed"
    assert by_name["collection"] == by_id["collection"] == str(world.tasks_a.id)
    assert by_name["project"] == by_id["project"] == project
    assert {case: reply["code"] for case, reply in replies.items()} == {
        "name_without_project": "invalid",
        "unknown_name": "not_found",
        "unknown_id": "not_found",
        "unknown_project": "not_found",
        "not_a_project_id": "not_found",
        "id_in_another_project": "not_found",
        "another_orgs_collection": "not_found",
        "another_orgs_project": "not_found",
        "not_a_string": "invalid",
    }
    assert sorted((m["subscription"], m["id"]) for m in got) == sorted(
        [(by_name["subscription"], record_id), (by_id["subscription"], record_id)]
    )
    assert {m["record"]["title"] for m in got} == {"named"}


def test_hostile_frames_get_an_error_and_the_socket_stays(world):
    async def body():
        ws = await connect(world.token(world.viewer_a))
        replies = []
        await ws.send_input({"type": "websocket.receive", "bytes": b"\x00\xff"})
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_input({"type": "websocket.receive", "text": "{not json"})
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to(["a", "list"])
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "subscribe", "org": "o" * 5000, "collection": "x" * 65})
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "heartbeat"})
        pong = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return replies, pong

    replies, pong = run(body)
    assert [(r["type"], r["code"]) for r in replies] == [("error", "invalid")] * 4
    assert pong["type"] == "heartbeat"


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
        events.publish_change(**{**change(world.tasks_a, "insert", 1), "op": "upsert"})


def test_signal_receiver_publishes_like_the_data_app_will(world):
    """The data app sends ``record_changed`` from on_commit; the receiver publishes at once."""
    from realtime.receivers import relay_record_change

    async def body():
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a", world.tasks_a)

        def data_app_commit():
            with transaction.atomic():
                transaction.on_commit(
                    lambda: relay_record_change(
                        None, org_id=world.org_a.id, project_id=None,
                        collection_id=world.tasks_a.id,
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
        commit(change(world.tasks_a, "insert", 1))  # on_commit send fails inside the breaker
        assert events.disconnect_user(world.viewer_a.pk) is False
    finally:
        redis_breaker.close()
    assert events.disconnect_user(world.viewer_a.pk) is True


def test_bulk_created_records_reach_subscribers_in_order(world):
    """``record_bulk_create`` announces its rows once (``records_created``); each row still
    reaches the subscriber as its own insert, decided as row-level security would."""
    from datastore import services as data_services

    def bulk_create():
        with world.acting(world.developer_a) as membership:
            return [
                str(r.id)
                for r in data_services.record_bulk_create(
                    membership=membership,
                    collection=world.tasks_a,
                    items=[{"title": f"t{n}"} for n in range(4)],
                )
            ]

    async def body():
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a", world.tasks_a)
        ids = await sync_to_async(bulk_create)()
        got = await drain(ws)
        await ws.disconnect()
        return ids, got

    ids, got = run(body)
    assert [(m["op"], m["id"], m["record"]["title"]) for m in got] == [
        ("insert", rid, f"t{n}") for n, rid in enumerate(ids)
    ]
