"""Realtime decides every change as the data API decides it for the same user.

Each role (owner, admin, developer, viewer) subscribes to an org-wide and to an owner-only
collection; members write rows through the REST API (inserts, an update, a delete), and what
each socket receives is compared with what ``GET .../records/`` lists for that user.
"""

from asgiref.sync import sync_to_async

from tenants.constants import Role
from tests.factories import UserFactory
from tests.realtime.conftest import add_member, records_url
from tests.realtime.sockets import connect, drain, run, subscribe

ROLES = ("owner_a", "admin_a", "developer_a", "viewer_a")


def test_each_role_receives_exactly_the_rows_the_data_api_shows_it(world, client_for):
    other_developer = UserFactory(password=None)
    add_member(world.org_a, world.owner_a, other_developer, Role.DEVELOPER)
    clients = {name: client_for(getattr(world, name)) for name in ROLES}
    clients["other_developer"] = client_for(other_developer)
    collections = {"org": world.tasks_a, "owner": world.private_a}
    urls = {access: records_url(world, c) for access, c in collections.items()}

    def write_rows() -> dict[str, tuple[str, str]]:
        written = {}
        for writer in ("other_developer", "owner_a", "developer_a"):
            for access, url in urls.items():
                response = clients[writer].post(url, {"data": {"by": writer}}, format="json")
                assert response.status_code == 201, response.content
                written[response.json()["id"]] = (writer, access)
        return written

    def listed() -> dict[str, dict[str, set[str]]]:
        return {
            name: {
                access: {r["id"] for r in clients[name].get(url).json()["results"]}
                for access, url in urls.items()
            }
            for name in ROLES
        }

    def change_rows(written):
        mine = {writer_access: rid for rid, writer_access in written.items()}
        private, shared = mine[("other_developer", "owner")], mine[("other_developer", "org")]
        writer = clients["other_developer"]
        response = writer.patch(f"{urls['owner']}{private}/", {"data": {"n": 1}}, format="json")
        assert response.status_code == 200, response.content
        assert writer.delete(f"{urls['org']}{shared}/").status_code == 204
        return [("update", private), ("delete", shared)]

    async def body():
        sockets = {}
        for name in ROLES:
            ws = await connect(world.token(getattr(world, name)))
            subs = {}
            for access, collection in collections.items():
                subs[await subscribe(ws, "org-a", collection)] = access
            sockets[name] = (ws, subs)
        written = await sync_to_async(write_rows)()
        visible = await sync_to_async(listed)()  # before the update and the delete
        changes = await sync_to_async(change_rows)(written)
        received = {}
        for name, (ws, subs) in sockets.items():
            received[name] = {access: [] for access in collections}
            for message in await drain(ws, timeout=1):
                received[name][subs[message["subscription"]]].append((message["op"], message["id"]))
            await ws.disconnect()
        return written, visible, changes, received

    written, visible, changes, received = run(body)
    # The data API's answer, event by event: an insert, update or delete of a row reaches a
    # socket exactly when that user's GET lists the row.
    expected = {
        name: {
            access: [("insert", rid) for rid, (_, a) in written.items() if a == access
                     and rid in visible[name][access]]
            + [(op, rid) for op, rid in changes if rid in visible[name][access]]
            for access in collections
        }
        for name in ROLES
    }  # fmt: skip
    assert received == expected
    # And what that answer is: org rows for everyone, owner-only rows for their owner and
    # for the org's owners and admins.
    by_writer = {name: {a: {written[rid][0] for rid in ids} for a, ids in v.items()}
                 for name, v in visible.items()}  # fmt: skip
    everyone = {"other_developer", "owner_a", "developer_a"}
    assert by_writer == {
        "owner_a": {"org": everyone, "owner": everyone},
        "admin_a": {"org": everyone, "owner": everyone},
        "developer_a": {"org": everyone, "owner": {"developer_a"}},
        "viewer_a": {"org": everyone, "owner": set()},
    }
