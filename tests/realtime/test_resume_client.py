"""Resuming on the client-app socket (``/client/v1/realtime/``): the replay is decided by the
project's access rules exactly as live events are (an end user gets back only their own rows
under the demo rules, the secret key everything, another project's key nothing), bad cursors
are refused and a trimmed log asks for a re-list. Real writes under the client's row-level
security, announced after commit, on the test PostgreSQL and Redis (the project and callers
are those of tests/access/test_matrix_files_realtime.py)."""

from asgiref.sync import sync_to_async

from realtime import events, replay
from tests.access import test_matrix_files_realtime as matrix
from tests.access.test_matrix_files_realtime import RULE_SETS, client_write, rt_connect, rt_rules
from tests.realtime.sockets import drain, run

rt = matrix.rt  # the fixture: the project, its keys and callers


async def subscribe(ws, **fields) -> dict:
    await ws.send_json_to({"type": "subscribe", "collection": "todos", **fields})
    return await ws.receive_json_from(timeout=5)


def test_a_resumed_client_subscription_replays_what_the_rules_show_the_caller(rt, settings):
    settings.PLATFORM_INSTANCE = "app3"
    rt_rules(rt, RULE_SETS["demo"], {})  # end users read, change and delete only their rows

    async def body():
        ws, ready = await rt_connect(rt, "alice")
        assert (await subscribe(ws))["type"] == "subscribed"
        a1 = await sync_to_async(client_write)(rt, "alice", "create", data={"t": 1})
        (first,) = await drain(ws)
        await ws.disconnect()
        since = first["cursor"]
        ids = {"a1": a1}
        ids["b1"] = await sync_to_async(client_write)(rt, "bob", "create", data={"t": 2})
        ids["a2"] = await sync_to_async(client_write)(rt, "alice", "create", data={"t": 3})
        await sync_to_async(client_write)(rt, "alice", "update", record_id=ids["a2"], data={"t": 4})
        await sync_to_async(client_write)(rt, "alice", "delete", record_id=a1)

        ws, _ = await rt_connect(rt, "alice")
        resumed = await subscribe(ws, since=since)
        replayed = await drain(ws)
        ids["a3"] = await sync_to_async(client_write)(rt, "alice", "create", data={"t": 5})
        live = await drain(ws)
        await ws.disconnect()

        others = {}
        for caller, fields in (
            ("bob", {}),
            ("secret", {}),
            ("anon", {}),
            ("other_key", {"collection": str(rt.collection.id)}),
        ):
            other, _ = await rt_connect(rt, caller)
            reply = await subscribe(other, since=since, **fields)
            others[caller] = (reply, await drain(other))
            await other.disconnect()
        return ready, first, ids, resumed, replayed, live, others

    ready, first, ids, resumed, replayed, live, others = run(body)
    names = {rid: name for name, rid in ids.items()}

    def seen(messages):
        return [(m["op"], names[m["id"]]) for m in messages]

    assert ready["instance"] == "app3" and ready["role"] == "authenticated"
    assert seen([first]) == [("insert", "a1")]
    assert resumed["type"] == "subscribed"
    assert seen(replayed) == [("insert", "a2"), ("update", "a2"), ("delete", "a1")]
    assert all(m["subscription"] == resumed["subscription"] for m in replayed)
    assert replayed[1]["record"] == {"id": ids["a2"], "t": 4}
    assert seen(live) == [("insert", "a3")]
    order = [replay.order(m["cursor"]) for m in (first, *replayed, *live)]
    assert order == sorted(order) and len(set(order)) == len(order)
    reply, got = others["bob"]
    assert reply["type"] == "subscribed" and seen(got) == [("insert", "b1")]
    reply, got = others["secret"]
    assert reply["type"] == "subscribed" and seen(got) == [
        ("insert", "b1"), ("insert", "a2"), ("update", "a2"), ("delete", "a1"), ("insert", "a3"),
    ]  # fmt: skip
    for caller, code in (("anon", "permission_denied"), ("other_key", "not_found")):
        reply, got = others[caller]
        assert reply["type"] == "error" and reply["code"] == code, caller
        assert got == [], caller


def test_client_socket_bad_and_trimmed_cursors(rt, settings):
    settings.REALTIME_REPLAY_MAXLEN = 10
    rt_rules(rt, RULE_SETS["public_read"], {})

    def burst():
        events.publish_changes(
            org_id=rt.project.org_id, project_id=rt.project.id, collection_id=rt.collection.id,
            op="insert", changes=[({"id": str(n), "data": {}}, {}) for n in range(300)],
            owner_id=None, owner_only=False,
        )  # fmt: skip

    async def body():
        ws, _ = await rt_connect(rt, "alice")
        bad = []
        for since in ("x", 1, "1-x"):
            bad.append(await subscribe(ws, since=since))
        assert (await subscribe(ws))["type"] == "subscribed"
        await sync_to_async(client_write)(rt, "editor", "create", data={"t": 1})
        (first,) = await drain(ws)
        await ws.disconnect()
        await sync_to_async(burst)()
        ws, _ = await rt_connect(rt, "alice")
        resumed = await subscribe(ws, since=first["cursor"])
        answer = await drain(ws)
        await ws.disconnect()
        return bad, resumed, answer

    bad, resumed, answer = run(body)
    assert [(r["type"], r["code"]) for r in bad] == [("error", "invalid")] * 3
    assert answer == [
        {"type": "resync_required", "ref": None, "subscription": resumed["subscription"],
         "collection": str(rt.collection.id)}
    ]  # fmt: skip
