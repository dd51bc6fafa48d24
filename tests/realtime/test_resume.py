"""Resuming a subscription after a lost socket (``"since"``), on the developer socket: the
replay log (``realtime.replay``, a Redis Stream per collection on the test Redis) replays
exactly what the subscription would have received, decided as live events are, then the live
events follow without duplicates; a cursor the log cannot continue asks for a re-list. The
client-app socket's side is in test_resume_client.py."""

import time

from asgiref.sync import sync_to_async

from cache.breaker import redis_breaker
from cache.client import get_redis
from realtime import events, layer, replay
from realtime.groups import collection_group
from tests.realtime.sockets import change, commit, connect, drain, run, subscribe


def cursors_increase(messages) -> bool:
    order = [replay.order(m["cursor"]) for m in messages]
    return len(set(order)) == len(order) and order == sorted(order)


def test_every_change_carries_a_cursor_increasing_in_publish_order(world, settings):
    settings.PLATFORM_INSTANCE = "app2"
    tasks = world.tasks_a

    def bulk():
        commit()  # nothing: no event, no log entry
        events.publish_changes(
            org_id=tasks.org_id, collection_id=tasks.id, op="insert",
            changes=[({"id": n}, None) for n in (3, 4, 5)], owner_id=None, owner_only=False,
        )  # fmt: skip

    async def body():
        ws = await connect()
        await ws.send_json_to({"type": "auth", "token": world.token(world.viewer_a)})
        ready = await ws.receive_json_from(timeout=5)
        await subscribe(ws, "org-a", tasks)
        await sync_to_async(commit)(change(tasks, "insert", 1), change(tasks, "update", 1))
        await sync_to_async(commit)(change(tasks, "insert", 2))
        await sync_to_async(bulk)()
        got = await drain(ws)
        await ws.disconnect()
        return ready, got

    ready, got = run(body)
    assert ready == {"type": "ready", "user_id": world.viewer_a.pk, "instance": "app2"}
    assert [(m["op"], m["id"]) for m in got] == [
        ("insert", 1), ("update", 1), ("insert", 2), ("insert", 3), ("insert", 4), ("insert", 5),
    ]  # fmt: skip
    assert all(replay.is_cursor(m["cursor"]) for m in got)
    assert cursors_increase(got)
    assert all("prev" not in m for m in got)  # the log's own bookkeeping stays inside


def test_logging_a_publish_is_one_script_call_however_many_rows(world):
    """The log costs a publish one round trip (EVALSHA of ``realtime.replay``'s script), a
    bulk write's rows included; channels-redis's own sends come on top, as before."""
    tasks = world.tasks_a

    def calls() -> dict[str, int]:
        stats = get_redis().info("commandstats")
        names = ("evalsha", "xadd", "xrevrange")
        return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in names}

    def bulk(count):
        events.publish_changes(
            org_id=tasks.org_id, collection_id=tasks.id, op="insert",
            changes=[({"id": n}, None) for n in range(count)], owner_id=None, owner_only=False,
        )  # fmt: skip

    bulk(1)  # the script is loaded into Redis once
    before = calls()
    bulk(5)
    commit(change(tasks, "insert", 9))
    after = calls()
    assert {name: after[name] - before[name] for name in after} == {
        "evalsha": 2, "xadd": 6, "xrevrange": 2,
    }  # fmt: skip


def test_a_resumed_subscription_gets_exactly_the_missed_visible_changes_then_live_ones(world):
    """viewer_a's socket dies after change 1; meanwhile rows are written in the owner-only
    collection (one of viewer2_a's, which viewer_a may not see), updated and deleted, and a
    change lands in another collection. Resuming replays viewer_a's missed changes in order,
    then live ones, once each; viewer2_a, an admin with a filter and another org's owner each
    get what their own rules give them of the same log."""
    private, tasks = world.private_a, world.tasks_a
    mine = {"owner": world.viewer_a, "owner_only": True}
    theirs = {"owner": world.viewer2_a, "owner_only": True}

    async def body():
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a", private)
        await sync_to_async(commit)(change(private, "insert", 1, **mine))
        (first,) = await drain(ws)
        await ws.disconnect()
        since = first["cursor"]
        await sync_to_async(commit)(change(private, "insert", 2, **theirs))
        await sync_to_async(commit)(
            change(private, "insert", 3, **mine), change(tasks, "insert", 30)
        )
        await sync_to_async(commit)(change(private, "update", 3, title="x", **mine))
        await sync_to_async(commit)(change(private, "delete", 1, **mine))

        ws = await connect(world.token(world.viewer_a), via="subprotocol")
        sub = await subscribe(ws, "org-a", private, since=since)
        replayed = await drain(ws)
        await sync_to_async(commit)(change(private, "insert", 4, **mine))
        live = await drain(ws)
        await ws.disconnect()

        others = {}
        for name, extra in (
            ("viewer2_a", {}),
            ("admin_a", {"filter": ["id:gte:3"]}),
        ):
            other = await connect(world.token(getattr(world, name)))
            await subscribe(other, str(world.org_a.id), private, since=since, **extra)
            others[name] = await drain(other)
            await other.disconnect()
        outsider = await connect(world.token(world.owner_b))
        await outsider.send_json_to(
            {"type": "subscribe", "org": "org-a", "collection": str(private.id), "since": since}
        )
        others["owner_b"] = await drain(outsider)
        await outsider.disconnect()
        return first, sub, replayed, live, others

    first, sub, replayed, live, others = run(body)
    assert (first["op"], first["id"]) == ("insert", 1)
    assert [(m["op"], m["id"]) for m in replayed] == [("insert", 3), ("update", 3), ("delete", 1)]
    assert all(m["subscription"] == sub for m in replayed)
    assert replayed[1]["record"] == {"id": 3, "title": "x"}
    assert [(m["op"], m["id"]) for m in live] == [("insert", 4)]
    assert cursors_increase([first, *replayed, *live])
    assert [(m["op"], m["id"]) for m in others["viewer2_a"]] == [("insert", 2)]
    assert [(m["op"], m["id"]) for m in others["admin_a"]] == [
        ("insert", 3), ("update", 3), ("insert", 4),
    ]  # fmt: skip
    assert [(m["type"], m.get("code")) for m in others["owner_b"]] == [("error", "not_found")]


def logged_not_sent(collection, rid) -> dict:
    """A change another process logged and has not sent yet: still on its way."""
    event = events._change_event(
        org_id=collection.org_id, project_id=None, collection_id=collection.id, op="insert",
        record={"id": rid}, record_id=None, owner_id=None, owner_only=False, data=None,
    )  # fmt: skip
    event["committed_at"] = time.time()
    replay.append(collection_group(collection.org_id, collection.id), [event])
    return event


def test_a_gap_in_live_delivery_is_filled_from_the_log_in_order_and_never_twice(world):
    """Two processes publish to one collection at once: the one that logged first may reach
    the socket second. The socket sees a change whose ``prev`` it has not seen, takes the
    missing one from the log first, and skips it when it arrives late."""
    tasks = world.tasks_a
    group = collection_group(tasks.org_id, tasks.id)

    async def body():
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a", tasks)
        await sync_to_async(commit)(change(tasks, "insert", 1))
        got = await drain(ws)
        late = await sync_to_async(logged_not_sent)(tasks, 2)
        await sync_to_async(commit)(change(tasks, "insert", 3))
        got += await drain(ws)
        await sync_to_async(layer.group_send)(group, late)  # it arrives at last
        got += await drain(ws)
        await ws.disconnect()
        return late, got

    late, got = run(body)
    assert [m["id"] for m in got] == [1, 2, 3]
    assert got[1]["cursor"] == late["cursor"]
    assert cursors_increase(got)


def test_resuming_next_to_a_live_subscription_of_the_same_collection(world):
    """The resumed subscription gets the replay, the live one does not; a change still on its
    way during the replay then reaches the live subscription once and the resumed one not
    again."""
    tasks = world.tasks_a
    group = collection_group(tasks.org_id, tasks.id)

    async def body():
        ws = await connect(world.token(world.viewer_a))
        live_sub = await subscribe(ws, "org-a", tasks)
        await sync_to_async(commit)(change(tasks, "insert", 1))
        await sync_to_async(commit)(change(tasks, "insert", 2))
        before = await drain(ws)
        late = await sync_to_async(logged_not_sent)(tasks, 3)
        resumed = await subscribe(ws, "org-a", tasks, since=before[0]["cursor"])
        replayed = await drain(ws)
        await sync_to_async(layer.group_send)(group, late)
        await sync_to_async(commit)(change(tasks, "insert", 4))
        after = await drain(ws)
        await ws.disconnect()
        return live_sub, resumed, before, replayed, after

    live_sub, resumed, before, replayed, after = run(body)
    assert [(m["subscription"], m["id"]) for m in before] == [(live_sub, 1), (live_sub, 2)]
    assert [(m["subscription"], m["id"]) for m in replayed] == [(resumed, 2), (resumed, 3)]
    assert [(m["subscription"], m["id"]) for m in after] == [
        (live_sub, 3), (live_sub, 4), (resumed, 4),
    ]  # fmt: skip


def test_a_cursor_the_log_no_longer_holds_asks_for_a_resync(world, settings):
    """Trimmed (more than ``REALTIME_REPLAY_MAXLEN`` changes since), expired (no change for
    ``REALTIME_REPLAY_TTL_SECONDS``), unknown to the log (newer than anything in it), or
    followed by changes that were never logged (Redis was unavailable), or unreadable now:
    the subscription stands, with a ``resync_required`` instead of a replay."""
    settings.REALTIME_REPLAY_MAXLEN = 10
    tasks, private = world.tasks_a, world.private_a

    def burst(collection, count):
        with_ids = [({"id": n}, None) for n in range(count)]
        events.publish_changes(
            org_id=collection.org_id, collection_id=collection.id, op="insert",
            changes=with_ids, owner_id=None, owner_only=False,
        )  # fmt: skip

    def dropped_while_redis_is_down(collection):
        redis_breaker.open()
        try:
            commit(change(collection, "insert", 50))
        finally:
            redis_breaker.close()
        commit(change(collection, "insert", 51))

    def wait_until_gone(collection):
        key = replay.stream_key(collection_group(collection.org_id, collection.id))
        deadline = time.monotonic() + 30
        while get_redis().exists(key):
            assert time.monotonic() < deadline, "the log did not expire"
            time.sleep(0.1)

    async def cursor_of_a_change(collection, rid):
        ws = await connect(world.token(world.viewer_a))
        await subscribe(ws, "org-a", collection)
        await sync_to_async(commit)(change(collection, "insert", rid))
        (message,) = await drain(ws)
        await ws.disconnect()
        return message["cursor"]

    async def resume(collection, since):
        ws = await connect(world.token(world.viewer_a))
        sub = await subscribe(ws, "org-a", collection, since=since)
        answer = await drain(ws)
        await sync_to_async(commit)(change(collection, "insert", 99))
        live = await drain(ws)
        await ws.disconnect()
        return sub, answer, live

    async def body():
        outcomes = {}
        since = await cursor_of_a_change(tasks, 1)
        await sync_to_async(burst)(tasks, 300)  # whole stream nodes of 100 are trimmed
        outcomes["trimmed"] = await resume(tasks, since)
        ms, _ = replay.order(outcomes["trimmed"][2][0]["cursor"])
        outcomes["unknown"] = await resume(tasks, f"{ms + 60_000}-0")
        outcomes["kept"] = await resume(tasks, outcomes["unknown"][2][0]["cursor"])

        since = await cursor_of_a_change(private, 1)
        await sync_to_async(dropped_while_redis_is_down)(private)
        outcomes["never_logged"] = await resume(private, since)

        ws = await connect(world.token(world.viewer_a))
        redis_breaker.open()  # the log cannot be read now; the channel layer still works
        try:
            sub = await subscribe(ws, "org-a", tasks, since=outcomes["kept"][2][0]["cursor"])
            outcomes["unreadable"] = (sub, await drain(ws))
        finally:
            redis_breaker.close()
        await ws.disconnect()

        settings.REALTIME_REPLAY_TTL_SECONDS = 1
        since = await cursor_of_a_change(private, 2)  # the log's expiry is now 1 s
        await sync_to_async(wait_until_gone)(private)
        outcomes["expired"] = await resume(private, since)
        return outcomes

    outcomes = run(body)
    for case in ("trimmed", "unknown", "never_logged", "expired"):
        sub, answer, live = outcomes[case]
        collection = private if case in ("never_logged", "expired") else tasks
        assert answer == [
            {"type": "resync_required", "ref": None, "subscription": sub,
             "collection": str(collection.id)}
        ], case  # fmt: skip
        assert [m["id"] for m in live] == [99], case  # the subscription stands
    sub, answer, live = outcomes["kept"]
    assert answer == [] and [m["id"] for m in live] == [99]
    sub, answer = outcomes["unreadable"]
    assert [(m["type"], m["subscription"]) for m in answer] == [("resync_required", sub)]


def test_a_since_that_is_no_cursor_is_an_invalid_error_and_the_socket_stays(world):
    async def body():
        ws = await connect(world.token(world.viewer_a))
        replies = []
        for since in ("nope", 5, "1-2-3", "-1-0", "1", f"{2**64}-0", ["1-0"]):
            await ws.send_json_to(
                {"type": "subscribe", "org": "org-a", "collection": str(world.tasks_a.id),
                 "since": since}
            )  # fmt: skip
            replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "heartbeat"})
        pong = await ws.receive_json_from(timeout=5)
        await sync_to_async(commit)(change(world.tasks_a, "insert", 1))
        after = await drain(ws)
        await ws.disconnect()
        return replies, pong, after

    replies, pong, after = run(body)
    assert [(r["type"], r["code"]) for r in replies] == [("error", "invalid")] * 7
    assert pong["type"] == "heartbeat"
    assert after == []  # no subscription was made
