"""Removing a member or changing their role takes effect on their open sockets at once, through
the same path that closes revoked sessions' sockets (an after-commit signal relayed to the
user's channel-layer group), not when the cached membership expires."""

from asgiref.sync import sync_to_async

from tenants import services
from tenants.constants import Role
from tests.realtime.conftest import in_thread
from tests.realtime.sockets import change, commit, connect, drain, run, subscribe

NEVER = 3600  # the cached membership would outlive the test


def test_a_removed_member_is_unsubscribed_at_once(world, settings):
    settings.REALTIME_MEMBERSHIP_TTL = NEVER
    tasks = world.tasks_a

    def remove(user):
        with world.acting(world.owner_a) as owner:
            services.member_remove(membership=owner, target=world.member(owner, user))

    async def body():
        ws = await connect(world.token(world.viewer_a))
        sub = await subscribe(ws, "org-a", tasks)
        await ws.send_json_to({"type": "join", "org": "org-a", "channel": "room"})
        assert (await ws.receive_json_from(timeout=5))["type"] == "presence_state"
        await drain(ws, timeout=0.3)  # its own join
        stays = await connect(world.token(world.viewer2_a))
        await subscribe(stays, "org-a", tasks)
        await sync_to_async(commit)(change(tasks, "insert", 1))
        before = await drain(ws)
        await sync_to_async(in_thread)(remove, world.viewer_a)
        notices = await drain(ws)
        await sync_to_async(commit)(change(tasks, "insert", 2))
        after = await drain(ws)
        await ws.send_json_to({"type": "subscribe", "org": "org-a", "collection": str(tasks.id)})
        again = await ws.receive_json_from(timeout=5)
        others = await drain(stays)
        for socket in (ws, stays):
            await socket.disconnect()
        return sub, before, notices, after, again, others

    sub, before, notices, after, again, others = run(body)
    assert [m["id"] for m in before] == [1]
    assert notices == [
        {"type": "unsubscribed", "subscription": sub, "reason": "not_a_member"},
        {"type": "left", "channel": "room", "reason": "not_a_member"},
    ]
    assert after == []
    assert again["code"] == "not_found"
    assert [m["id"] for m in others if m["type"] == "change"] == [1, 2]


def test_a_role_change_narrows_and_widens_owner_only_delivery_at_once(world, settings):
    settings.REALTIME_MEMBERSHIP_TTL = NEVER
    private = world.private_a

    def swap_roles():
        with world.acting(world.owner_a) as owner:
            services.member_change_role(
                membership=owner, target=world.member(owner, world.admin_a), role=Role.DEVELOPER
            )
        with world.acting(world.owner_a) as owner:
            services.member_change_role(
                membership=owner, target=world.member(owner, world.developer_a), role=Role.ADMIN
            )

    def someone_elses_row(rid):
        return change(private, "insert", rid, owner=world.viewer2_a, owner_only=True)

    async def body():
        admin = await connect(world.token(world.admin_a))
        developer = await connect(world.token(world.developer_a))
        for ws in (admin, developer):
            await subscribe(ws, "org-a", private)
        await sync_to_async(commit)(someone_elses_row(1))
        before = [await drain(ws) for ws in (admin, developer)]
        await sync_to_async(in_thread)(swap_roles)
        await sync_to_async(commit)(someone_elses_row(2))
        after = [await drain(ws) for ws in (admin, developer)]
        for ws in (admin, developer):
            await ws.disconnect()
        return before, after

    before, after = run(body)
    ids = [[m["id"] for m in got] for got in before + after]
    # admin_a: sees row 1 as admin, not row 2 as developer; developer_a: the other way round.
    assert ids == [[1], [], [], [2]]
    assert all(m["type"] == "change" for got in before + after for m in got)  # no unsubscribe
