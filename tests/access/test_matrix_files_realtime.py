"""The access rules on files and realtime, cell by cell.

Callers: anon (the publishable key), end users A and B, an end user with the app role
"editor", the secret key, a developer's token, another project's key. Operations: select
(list, download, signed URL; realtime: receiving change events), insert (upload; realtime:
sending on a private channel), update (overwrite), delete. Two rule sets: the demo rules
(authenticated end users own their rows) and "public read" (everyone reads, editors write).
Every allowed cell works; every denied cell is 401/403/404 (or a refused socket, or no
event) and leaves the objects in the database as they were.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from rest_framework.test import APIClient

from access import services as access_services
from access.constants import SERVICE_ROLE
from datastore import services as data_services
from datastore.models import Record
from datastore.signals import record_changed
from endusers.models import EndUser
from endusers.services.sessions import end_user_session_start
from platform_site.asgi import application
from storage import services as storage_services
from storage.models import StoredObject
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tenants.models import Membership
from tests.access.conftest import as_client
from tests.datastore.conftest import as_member
from tests.factories import UserFactory
from tests.realtime.communicator import WebsocketCommunicator
from tests.realtime.sockets import ORIGIN, drain, run
from tests.tokens import access_token

CALLERS = ("anon", "alice", "bob", "editor", "secret", "developer", "other_key")
OPERATIONS = ("select", "insert", "update", "delete")
DEMO = {op: ("authenticated", "owner", "") for op in OPERATIONS}
PUBLIC_READ = {
    "select": [("anon", "everyone", ""), ("authenticated", "everyone", "")],
    **{op: [("authenticated", "role", "editor")] for op in ("insert", "update", "delete")},
}
RULE_SETS = {
    "demo": {op: [rule] for op, rule in DEMO.items()},
    "public_read": PUBLIC_READ,
}


# --- the project -------------------------------------------------------------------------------
def setup_project(membership, project, other_membership, other_project):
    """Keys of both projects and three end users with live sessions: caller -> headers."""
    as_member(membership)
    _, publishable = tenant_services.api_key_create(
        membership=membership, project=project, kind="publishable"
    )
    _, secret = tenant_services.api_key_create(
        membership=membership, project=project, kind="secret", name="server"
    )
    as_member(other_membership)
    _, other = tenant_services.api_key_create(
        membership=other_membership, project=other_project, kind="publishable"
    )
    as_client(project, SERVICE_ROLE)
    users = {
        name: EndUser.objects.create(
            org_id=project.org_id,
            project=project,
            email=f"{name}@example.com",
            app_metadata={"roles": ["editor"]} if name == "editor" else {},
        )  # fmt: skip
        for name in ("alice", "bob", "editor")
    }
    set_tenant_context(TenantContext())
    headers = {"anon": {"HTTP_APIKEY": publishable}, "secret": {"HTTP_APIKEY": secret}}
    tokens = {}
    for name, end_user in users.items():
        session = end_user_session_start(project=project, end_user=end_user)
        tokens[name] = session.access_token
        headers[name] = {
            "HTTP_APIKEY": publishable,
            "HTTP_AUTHORIZATION": f"Bearer {session.access_token}",
        }
    headers["other_key"] = {"HTTP_APIKEY": other}
    return headers, users, {"publishable": publishable, "secret": secret, "other": other}


def set_rules(membership, project, rule_set, **target):
    as_member(membership)
    for operation, rules in rule_set.items():
        for client_role, kind, app_role in rules:
            access_services.rule_set(
                membership=membership, project=project, operation=operation,
                client_role=client_role, kind=kind, app_role=app_role, **target,
            )  # fmt: skip
    set_tenant_context(TenantContext())


# --- files -------------------------------------------------------------------------------------
BUCKET = "/client/v1/storage/photos/"


def obj_url(key):
    return f"{BUCKET}object/{key}"


def stored():
    """Every object of every org, as the database holds it: key -> (sha256, end user)."""
    set_tenant_context(TenantContext(platform_admin=True))
    rows = {o.key: (o.sha256, o.end_user_id) for o in StoredObject.objects.all()}
    set_tenant_context(TenantContext())
    return rows


def put(client, headers, key, body: bytes, content_type="text/plain"):
    return client.generic("PUT", obj_url(key), body, content_type=content_type, **headers)


@pytest.fixture
def files(membership_a, project_a, membership_b, project_b, developer_headers):
    as_member(membership_a)
    bucket = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="photos"
    )
    set_tenant_context(TenantContext())
    headers, users, keys = setup_project(membership_a, project_a, membership_b, project_b)
    headers["developer"] = {"HTTP_APIKEY": keys["publishable"], **developer_headers}
    set_rules(membership_a, project_a, RULE_SETS["demo"], resource_type="bucket",
              resource_id=bucket.id)  # fmt: skip
    client = APIClient()
    for caller, key in (("alice", "a.txt"), ("bob", "b.txt"), ("secret", "s.txt")):
        response = put(client, headers[caller], key, f"{caller}'s file".encode())
        assert response.status_code == 201, response.content
    return {"headers": headers, "users": users, "bucket": bucket, "client": client}


@pytest.fixture
def developer_headers(membership_a):
    from tests.tokens import access_token

    return {"HTTP_AUTHORIZATION": f"Bearer {access_token(membership_a.user)}"}


# (rule set, caller) -> what each operation gives: list = keys listed, or a status code.
FILE_CELLS = {
    "demo": {
        "anon": {"list": 403, "get": 404, "insert": 403, "update": 403, "delete": 404},
        "alice": {"list": ["a.txt"], "get": 200, "insert": 201, "update": 200, "delete": 204},
        "bob": {"list": ["b.txt"], "get": 404, "insert": 201, "update": 403, "delete": 404},
        "editor": {"list": [], "get": 404, "insert": 201, "update": 403, "delete": 404},
    },
    "public_read": {
        "anon": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 403,
                 "update": 403, "delete": 403},
        "alice": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 403,
                  "update": 403, "delete": 403},
        "bob": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 403,
                "update": 403, "delete": 403},
        "editor": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 201,
                   "update": 200, "delete": 204},
    },
}  # fmt: skip
for cells in FILE_CELLS.values():
    cells["secret"] = {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 201,
                       "update": 200, "delete": 204}  # fmt: skip
    cells["developer"] = dict.fromkeys(("list", "get", "insert", "update", "delete"), 401)
    cells["other_key"] = dict.fromkeys(("list", "get", "insert", "update", "delete"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize("rule_set", sorted(FILE_CELLS))
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", ("list", "get", "insert", "update", "delete"))
def test_file_cell(files, membership_a, project_a, rule_set, caller, operation):
    if rule_set != "demo":
        set_rules(membership_a, project_a, RULE_SETS[rule_set], resource_type="bucket",
                  resource_id=files["bucket"].id)  # fmt: skip
    client, headers = files["client"], files["headers"][caller]
    expected = FILE_CELLS[rule_set][caller][operation]
    before = stored()
    if operation == "list":
        response = client.get(BUCKET, **headers)
    elif operation == "get":
        response = client.get(obj_url("a.txt"), **headers)
    elif operation == "insert":
        response = put(client, headers, "new.txt", b"new bytes")
    elif operation == "update":
        response = put(client, headers, "a.txt", b"overwritten")
    else:
        response = client.delete(obj_url("a.txt"), **headers)
    status = 200 if isinstance(expected, list) else expected
    assert response.status_code == status, (response.status_code, response.content[:300])
    after = stored()
    if status >= 400:
        body = response.json()["error"]
        assert body["status"] == status and body["code"]
        assert after == before  # a denied cell changes nothing
        return
    if operation == "list":
        assert [o["key"] for o in response.json()] == expected
        assert after == before
    elif operation == "get":
        assert b"".join(response.streaming_content) == b"alice's file"
        digest = hashlib.sha256(b"alice's file").hexdigest()
        assert response["ETag"] == f'"{digest}"'
        assert after == before
    elif operation == "insert":
        end_user = files["users"].get(caller)
        assert after["new.txt"] == (
            hashlib.sha256(b"new bytes").hexdigest(),
            end_user.id if end_user else None,
        )
        assert {k: v for k, v in after.items() if k != "new.txt"} == before
    elif operation == "update":
        assert after["a.txt"][0] == hashlib.sha256(b"overwritten").hexdigest()
        assert after["a.txt"][1] == before["a.txt"][1]  # still alice's
    else:
        assert "a.txt" not in after and len(after) == len(before) - 1


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
def test_signed_urls_only_for_callers_the_select_rule_allows(files, caller):
    client, headers = files["client"], files["headers"][caller]
    response = client.post(f"{BUCKET}sign/a.txt", {"expires_in": 60}, format="json", **headers)
    expected = {"alice": 200, "secret": 200, "developer": 401}.get(caller, 404)
    assert response.status_code == expected, response.content
    if expected != 200:
        assert response.json()["error"]["status"] == expected
        return
    url = response.json()["url"]
    download = APIClient().get(url.split("testserver", 1)[1])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"alice's file"


@pytest.mark.django_db
def test_public_buckets_stay_public_for_downloads(files, membership_a, project_a):
    as_member(membership_a)
    storage_services.bucket_delete(membership=membership_a, bucket=files["bucket"])
    public = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="photos", public=True
    )
    set_rules(membership_a, project_a, RULE_SETS["demo"], resource_type="bucket",
              resource_id=public.id)  # fmt: skip
    client, headers = files["client"], files["headers"]
    assert put(client, headers["alice"], "avatar.png", b"\x89PNG", "image/png").status_code == 201
    anon = headers["anon"]
    download = client.get(obj_url("avatar.png"), **anon)
    assert download.status_code == 200 and download["Cache-Control"].startswith("public")
    assert client.get(BUCKET, **anon).status_code == 403  # listing still follows the rules
    assert put(client, anon, "avatar.png", b"x").status_code == 403
    # Not in the caller's rules: a public download does not make it visible to writes.
    assert client.delete(obj_url("avatar.png"), **anon).status_code == 404
    assert "avatar.png" in stored()
    assert client.get(obj_url("missing.png"), **anon).status_code == 404


@pytest.mark.django_db
def test_uploads_keep_the_bucket_limits_and_bad_input_is_400(files, membership_a, project_a):
    client, alice = files["client"], files["headers"]["alice"]
    as_member(membership_a)
    bucket = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="small", max_file_size=4,
        allowed_content_types=["image/*"],
    )  # fmt: skip
    set_rules(membership_a, project_a, RULE_SETS["demo"], resource_type="bucket",
              resource_id=bucket.id)  # fmt: skip
    url = "/client/v1/storage/small/object/x.png"
    too_big = client.generic("PUT", url, b"12345", content_type="image/png", **alice)
    wrong_type = client.generic("PUT", url, b"123", content_type="text/html", **alice)
    empty = client.generic("PUT", url, b"", content_type="image/png", **alice)
    bad_type = client.generic("PUT", url, b"123", content_type="not a type", **alice)
    for response in (too_big, wrong_type, empty, bad_type):
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"]
    bad_key = client.generic("PUT", BUCKET + "object/../x", b"1", **alice)
    assert bad_key.status_code == 404
    assert "x.png" not in stored()
    ok = client.generic("PUT", url, b"1234", content_type="image/png", **alice)
    assert ok.status_code == 201
    ranged = client.get(url, HTTP_RANGE="bytes=1-2", **alice)
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"23"
    etag = ranged["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag, **alice).status_code == 304


@pytest.mark.django_db
def test_deleting_an_end_user_keeps_their_files_ownerless(files, project_a):
    as_client(project_a, SERVICE_ROLE)
    EndUser.objects.filter(pk=files["users"]["alice"].pk).delete()
    set_tenant_context(TenantContext())
    assert stored()["a.txt"][1] is None


# --- realtime ----------------------------------------------------------------------------------
# Sockets read the database from other threads, so this part commits for real (``committed``).
RT_PATH = "/client/v1/realtime/"


@dataclass
class RealtimeWorld:
    project: object
    collection: object
    keys: dict
    users: dict
    tokens: dict
    developer_token: str
    contexts: dict = field(default_factory=dict)

    def url(self, caller) -> str:
        if caller == "other_key":
            return f"{RT_PATH}?apikey={self.keys['other']}"
        if caller == "secret":
            return f"{RT_PATH}?apikey={self.keys['secret']}"
        query = f"{RT_PATH}?apikey={self.keys['publishable']}"
        if caller == "developer":
            return f"{query}&access_token={self.developer_token}"
        if caller in self.tokens:
            return f"{query}&access_token={self.tokens[caller]}"
        return query

    def context(self, caller) -> TenantContext:
        end_user = self.users.get(caller)
        return TenantContext(
            org_id=self.project.org_id,
            project_id=self.project.id,
            client_role=(
                SERVICE_ROLE if caller == "secret" else "authenticated" if end_user else "anon"
            ),
            end_user_id=end_user.id if end_user else None,
            end_user_roles=("editor",) if caller == "editor" else (),
        )


@pytest.fixture
def rt(committed):
    owner, other_owner = UserFactory(password=None), UserFactory(password=None)
    org = tenant_services.org_create(actor=owner, name="Org A", slug="org-a")
    other_org = tenant_services.org_create(actor=other_owner, name="Org B", slug="org-b")
    with tenant_context(TenantContext(org_id=org.id, user_id=owner.pk)):
        membership = Membership.objects.select_related("org", "user").get(org=org, user=owner)
        project = tenant_services.project_create(membership=membership, name="app-a")
        collection = data_services.collection_create(
            membership=membership, project=project, name="todos"
        )
    with tenant_context(TenantContext(org_id=other_org.id, user_id=other_owner.pk)):
        other_membership = Membership.objects.select_related("org", "user").get(
            org=other_org, user=other_owner
        )
        other_project = tenant_services.project_create(membership=other_membership, name="app-b")
    with transaction.atomic():
        _, users, keys = setup_project(membership, project, other_membership, other_project)
    tokens = {}
    for name, end_user in users.items():
        tokens[name] = end_user_session_start(project=project, end_user=end_user).access_token
    world = RealtimeWorld(project, collection, keys, users, tokens, access_token(owner))
    world.membership = membership
    return world


def rt_rules(world, rule_set, channel_rules):
    with transaction.atomic():
        set_rules(world.membership, world.project, rule_set, resource_type="collection",
                  resource_id=world.collection.id)  # fmt: skip
        set_rules(world.membership, world.project, channel_rules, resource_type="channel",
                  channel="room")  # fmt: skip


def client_write(world, caller, op, *, record_id=None, data=None):
    """A client app's write under its own row-level security, announced after commit as the
    data services announce theirs (``datastore.signals.record_changed``). The row id."""
    with tenant_context(world.context(caller)):
        if op == "create":
            record = Record.objects.create(
                org_id=world.project.org_id, project_id=world.project.id,
                collection=world.collection, data=data,
            )  # fmt: skip
        else:
            record = Record.objects.get(pk=record_id)
        with tenant_context(world.context("secret")):  # a writer may not read its row back
            record.refresh_from_db()  # the end user the database recorded
        if op == "update":
            record.data = data
            assert Record.objects.filter(pk=record.pk).update(data=data) == 1
        elif op == "delete":
            assert Record.objects.filter(pk=record.pk).delete()[0] == 1
        payload = {
            "org_id": record.org_id, "project_id": record.project_id,
            "collection_id": record.collection_id, "record_id": record.pk,
            "owner_id": record.owner_id, "end_user_id": record.end_user_id,
            "owner_only": record.owner_only, "op": op, "data": record.data, "request_id": "",
        }  # fmt: skip
        transaction.on_commit(lambda: record_changed.send(sender=Record, **payload))
    return str(record.pk)


def visible_ids(world, caller) -> set[str]:
    """What the records' SQL policies show ``caller`` (the data API's rule)."""
    with tenant_context(world.context(caller)):
        return {str(pk) for pk in Record.objects.values_list("pk", flat=True)}


async def rt_connect(world, caller):
    # A browser sends Origin; a server holding the secret key does not.
    headers = [] if caller == "secret" else list(ORIGIN)
    ws = WebsocketCommunicator(application, world.url(caller), headers=headers)
    connected, code = await ws.connect(timeout=5)
    if not connected:
        return None, code
    ready = await ws.receive_json_from(timeout=5)
    assert ready["type"] == "ready"
    return ws, ready


RT_CALLERS = ("anon", "alice", "bob", "editor", "secret", "other_key")
CONDITIONAL = {
    "select": [("anon", "everyone", ""), ("authenticated", "role", "editor")],
    "insert": [("authenticated", "everyone", "")],
    "update": [("authenticated", "everyone", "")],
    "delete": [("authenticated", "everyone", "")],
}
# The writes each rule set allows (caller, op, row name, data), and the rows each caller's
# "select" rule shows it.
RT_SCENARIOS = {
    "demo": (
        RULE_SETS["demo"],
        [("alice", "create", "a1", {"t": 1}), ("bob", "create", "b1", {"t": 2}),
         ("secret", "create", "s1", {"t": 3}), ("alice", "update", "a1", {"t": 4}),
         ("bob", "delete", "b1", None)],
        {"alice": {"a1"}, "bob": {"b1"}, "editor": set(), "secret": {"a1", "b1", "s1"}},
    ),
    "public_read": (
        RULE_SETS["public_read"],
        [("editor", "create", "e1", {"t": 1}), ("secret", "create", "s1", {"t": 2}),
         ("editor", "update", "s1", {"t": 3}), ("editor", "delete", "e1", None)],
        {caller: {"e1", "s1"} for caller in ("anon", "alice", "bob", "editor", "secret")},
    ),
    "conditional": (
        CONDITIONAL,
        [("secret", "create", "s1", {"published": True}),
         ("secret", "create", "s2", {"published": False}),
         ("alice", "create", "a1", {"published": True})],
        {"anon": {"s1", "a1"}, "editor": {"s1", "s2", "a1"}, "secret": {"s1", "s2", "a1"}},
    ),
}  # fmt: skip


@pytest.mark.parametrize("scenario", sorted(RT_SCENARIOS))
def test_realtime_events_follow_the_select_rule(rt, scenario):
    rules, writes, sees = RT_SCENARIOS[scenario]
    rt_rules(rt, rules, {})
    if scenario == "conditional":
        with transaction.atomic():
            as_member(rt.membership)
            access_services.rule_set(
                membership=rt.membership, project=rt.project, resource_type="collection",
                resource_id=rt.collection.id, operation="select", client_role="anon",
                kind="everyone", conditions=["published:eq:true"],
            )  # fmt: skip

    async def body():
        sockets = {}
        for caller in RT_CALLERS:
            ws, _ = await rt_connect(rt, caller)
            await ws.send_json_to({"type": "subscribe", "collection": "todos", "ref": caller})
            reply = await ws.receive_json_from(timeout=5)
            sockets[caller] = (ws, reply)
        ids = {}
        for caller, op, name, data in writes:
            ids[name] = await sync_to_async(client_write)(
                rt, caller, op, record_id=ids.get(name), data=data
            )
        received = {}
        for caller, (ws, reply) in sockets.items():
            received[caller] = (reply, await drain(ws, timeout=1))
            await ws.disconnect()
        return ids, received

    ids, received = run(body)
    names = {rid: name for name, rid in ids.items()}
    for caller in RT_CALLERS:
        reply, events = received[caller]
        if caller == "other_key":
            assert reply["code"] == "not_found", reply  # no such collection in its project
            assert events == []
            continue
        if caller not in sees:  # no "select" rule opens the collection to this caller
            assert reply["code"] == "permission_denied", (caller, reply)
            assert events == []
            continue
        assert reply["type"] == "subscribed", (caller, reply)
        got = [(e["op"], names[e["id"]]) for e in events if e["type"] == "change"]
        expected = [
            ({"create": "insert"}.get(op, op), name)
            for _, op, name, _ in writes
            if name in sees[caller]
        ]
        assert got == expected, (caller, got)
    # The socket decided each row as the SQL policies do for the same caller.
    for caller, rows in sees.items():
        still_there = {ids[name] for name in rows} & {
            rid for rid in ids.values() if rid in visible_ids(rt, "secret")
        }
        assert visible_ids(rt, caller) == still_there, caller


CHANNEL_RULES = {
    "demo": {"select": [("authenticated", "everyone", "")],
             "insert": [("authenticated", "everyone", "")]},
    "public_read": {"select": [("anon", "everyone", ""), ("authenticated", "everyone", "")],
                    "insert": [("authenticated", "role", "editor")]},
}  # fmt: skip
# (rule set) -> caller -> (may join, may send) on the private channel "room".
CHANNEL_CELLS = {
    "demo": {"anon": (False, False), "alice": (True, True), "bob": (True, True),
             "editor": (True, True), "secret": (True, True)},
    "public_read": {"anon": (True, False), "alice": (True, False), "bob": (True, False),
                    "editor": (True, True), "secret": (True, True)},
}  # fmt: skip


@pytest.mark.parametrize("rule_set", sorted(CHANNEL_CELLS))
def test_private_channels_need_select_to_join_and_insert_to_send(rt, rule_set):
    rt_rules(rt, {}, CHANNEL_RULES[rule_set])

    async def body():
        listener, _ = await rt_connect(rt, "secret")
        await listener.send_json_to({"type": "join", "channel": "room"})
        assert (await listener.receive_json_from(timeout=5))["type"] == "presence_state"
        outcomes = {}
        for caller in (*CHANNEL_CELLS[rule_set], "other_key"):
            ws, _ = await rt_connect(rt, caller)
            await ws.send_json_to({"type": "join", "channel": "room", "presence": {"c": caller}})
            joined = await ws.receive_json_from(timeout=5)
            await ws.send_json_to(
                {"type": "broadcast", "channel": "room", "event": "hi", "payload": {"c": caller}}
            )
            sent = await drain(ws, timeout=0.5)
            outcomes[caller] = (joined, sent)
            await ws.disconnect()
        heard = await drain(listener, timeout=1)
        await listener.disconnect()
        return outcomes, heard

    outcomes, heard = run(body)
    said = [m["payload"]["c"] for m in heard if m["type"] == "broadcast"]
    diffs = [m for m in heard if m["type"] == "presence_diff"]
    tracked = {j["meta"].get("c") for m in diffs for j in m["joins"]}
    for caller, (may_join, may_send) in CHANNEL_CELLS[rule_set].items():
        joined, sent = outcomes[caller]
        if not may_join:
            assert joined["code"] == "permission_denied", (caller, joined)
        else:
            assert joined["type"] == "presence_state", (caller, joined)
        if not may_send:
            errors = [m["code"] for m in sent if m["type"] == "error"]
            assert errors == ["not_joined" if not may_join else "permission_denied"], caller
        assert (caller in said) == may_send, (caller, said)
        assert (caller in tracked) == (may_join and may_send), (caller, tracked)
    # Another project's key is in another project's channel of the same name.
    assert outcomes["other_key"][0]["type"] == "presence_state"
    assert "other_key" not in said and "other_key" not in tracked


def test_public_channels_are_open_to_any_key_holder(rt):
    async def body():
        listener, _ = await rt_connect(rt, "alice")
        await listener.send_json_to({"type": "join", "channel": "lobby"})
        await listener.receive_json_from(timeout=5)
        anon, _ = await rt_connect(rt, "anon")
        await anon.send_json_to({"type": "join", "channel": "lobby", "presence": {"n": 1}})
        assert (await anon.receive_json_from(timeout=5))["type"] == "presence_state"
        await anon.send_json_to({"type": "broadcast", "channel": "lobby", "event": "e",
                                 "payload": {"x": 1}})  # fmt: skip
        heard = await drain(listener, timeout=1)
        await anon.disconnect()
        await listener.disconnect()
        return heard

    heard = run(body)
    assert [m["payload"] for m in heard if m["type"] == "broadcast"] == [{"x": 1}]
    assert any(m["type"] == "presence_diff" and m["joins"] for m in heard)


@pytest.mark.parametrize(
    "url",
    [
        RT_PATH,  # no key
        f"{RT_PATH}?apikey=sb_publishable_nope",
        "developer",  # a developer's token is no end user's token
        "expired",
        "secret_in_browser",
    ],
)
def test_refused_handshakes_close_with_4401(rt, url, settings):
    if url == "developer":
        url = rt.url("developer")
    elif url == "expired":
        settings.CLIENT_ACCESS_TOKEN_LIFETIME = timedelta(seconds=-10)
        session = end_user_session_start(project=rt.project, end_user=rt.users["alice"])
        url = f"{RT_PATH}?apikey={rt.keys['publishable']}&access_token={session.access_token}"
    elif url == "secret_in_browser":
        url = rt.url("secret")  # ORIGIN is sent: a browser

    async def body():
        ws = WebsocketCommunicator(application, url, headers=list(ORIGIN))
        return await ws.connect(timeout=5)

    connected, code = run(body)
    assert connected is False and code == 4401


def test_a_revoked_end_user_session_closes_its_socket(rt):
    async def body():
        ws, ready = await rt_connect(rt, "alice")
        assert ready["role"] == "authenticated"
        await sync_to_async(_revoke_sessions)(rt.users["alice"])
        return await ws.receive_output(timeout=5)

    closed = run(body)
    assert closed == {"type": "websocket.close", "code": 4001}


def _revoke_sessions(end_user):
    from authn.models import Session
    from authn.services.revocation import revoke

    with tenant_context(TenantContext(platform_admin=True)):
        revoke(list(Session.objects.filter(end_user_id=end_user.pk)), reason="test")


def test_another_projects_key_cannot_name_the_collection_by_id(rt):
    rt_rules(rt, RULE_SETS["public_read"], {})

    async def body():
        ws, ready = await rt_connect(rt, "other_key")
        assert ready["role"] == "anon" and ready["project"] != rt.project.ref
        await ws.send_json_to({"type": "subscribe", "collection": str(rt.collection.id)})
        reply = await ws.receive_json_from(timeout=5)
        await sync_to_async(client_write)(rt, "secret", "create", data={"t": 1})
        events = await drain(ws, timeout=1)
        await ws.disconnect()
        return reply, events

    reply, events = run(body)
    assert reply["code"] == "not_found" and events == []
