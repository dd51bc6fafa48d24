"""Supabase Realtime (Phoenix channels) at ``/realtime/v1/websocket``.

The real supabase-js against a live server, through both URL forms (``js/realtime.test.mjs``),
and the protocol's edges on the ASGI application itself: malformed frames, refusals, tokens
changed on an open socket, and change events in commit order under concurrent writers. The
demo project (``bootstrap_demo``): ``todos`` rows are their end user's own.
"""

import asyncio
import io
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import jwt
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import Client

from access import services as access_services
from compat.realtime import frames, rows
from datastore import selectors as data_selectors
from datastore import services as data_services
from datastore.exceptions import VersionMismatch
from datastore.models import Record
from endusers.identity import identify
from platform_site.asgi import application
from tenants import selectors as tenant_selectors
from tenants.context import TenantContext, tenant_context
from tests.compat.conftest import URL_FORMS
from tests.realtime.communicator import WebsocketCommunicator
from tests.realtime.conftest import in_thread
from tests.realtime.sockets import run

PATH = "/realtime/v1/websocket"


@pytest.mark.slow
@pytest.mark.parametrize("form", URL_FORMS)
def test_supabase_js_realtime(demo, form):
    demo.node("realtime.test.mjs", form)


# --- the protocol on the ASGI application --------------------------------------------------
@dataclass
class App:
    ref: str
    publishable: str
    secret: str

    def end_user(self) -> tuple[str, str]:
        """A signed-up end user of the demo project: (access token, id)."""
        count = next(_counter)
        response = Client().post(
            "/client/v1/auth/signup/",
            {"email": f"rt-{count}@example.com", "password": "correct horse battery 1"},
            content_type="application/json",
            HTTP_APIKEY=self.publishable,
        )
        assert response.status_code == 201, response.content
        body = response.json()
        return body["session"]["access_token"], body["user"]["id"]

    def write(self, token: str, method: str, path: str = "", data=None, **headers):
        client = Client()
        call = getattr(client, method)
        response = call(
            f"/client/v1/collections/todos/records/{path}",
            json.dumps({"data": data}) if data is not None else None,
            content_type="application/json",
            HTTP_APIKEY=self.publishable if token else self.secret,
            **({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}),
            **headers,
        )
        return response


_counter = iter(range(1, 10**6))


@pytest.fixture
def app(committed) -> App:
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    text = out.getvalue()
    return App(
        ref=re.search(r"Demo client app: project \S+, ref (\w+)", text)[1],
        publishable=re.search(r"Demo publishable key: (\S+)", text)[1],
        secret=re.search(r"Demo secret key: (\S+)", text)[1],
    )


class Phoenix:
    """A Phoenix client on the communicator: frames in the socket's serializer version."""

    def __init__(self, ws, vsn):
        self.ws, self.vsn, self.ref = ws, vsn, 0

    async def push(self, topic, event, payload, *, join_ref=None) -> str:
        self.ref += 1
        ref = str(self.ref)
        frame = frames.Frame(join_ref, ref, topic, event, payload)
        await self.ws.send_input(
            {"type": "websocket.receive", "text": frames.encode(frame, self.vsn)}
        )
        return ref

    async def raw(self, text=None, data=None):
        message = {"type": "websocket.receive"}
        message.update({"text": text} if text is not None else {"bytes": data})
        await self.ws.send_input(message)

    async def frame(self, timeout=5):
        """The next frame as a tuple (a binary broadcast: its fields), or ("closed", code)."""
        output = await self.ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            return ("closed", output.get("code"))
        if output.get("bytes") is not None:
            data = output["bytes"]
            assert data[0] == frames.USER_BROADCAST
            topic_size, event_size, meta_size, encoding = data[1:5]
            rest = data[5:]
            topic, event = rest[:topic_size].decode(), rest[topic_size : topic_size + event_size]
            body = rest[topic_size + event_size + meta_size :]
            payload = json.loads(body) if encoding == frames.JSON else body
            return (None, None, topic, "broadcast", {"event": event.decode(), "payload": payload})
        message = json.loads(output["text"])
        if isinstance(message, dict):
            return tuple(message[k] for k in ("join_ref", "ref", "topic", "event", "payload"))
        return tuple(message)

    async def reply(self, ref, timeout=5):
        while True:
            frame = await self.frame(timeout)
            if frame[0] == "closed":
                raise AssertionError(f"closed: {frame}")
            if frame[3] == "phx_reply" and frame[1] == ref:
                return frame[4]

    async def join(self, name, *, token=None, changes=(), private=False, **config):
        payload = {
            "config": {
                "broadcast": {"self": False, "ack": False},
                "presence": {"key": "", "enabled": False},
                "postgres_changes": list(changes),
                "private": private,
                **config,
            }
        }
        if token:
            payload["access_token"] = token
        ref = await self.push(f"realtime:{name}", "phx_join", payload, join_ref=None)
        self.ref_of = ref
        return await self.reply(ref)

    async def events(self, event, timeout=1.5) -> list:
        got = []
        while True:
            try:
                frame = await self.frame(timeout)
            except TimeoutError:
                return got
            if frame[3] == event:
                got.append(frame)


async def phoenix(app, *, vsn="2.0.0", key=None, path=PATH, query=None):
    query = query if query is not None else f"apikey={key or app.publishable}&vsn={vsn}"
    ws = WebsocketCommunicator(application, f"{path}?{query}")
    connected, detail = await ws.connect(timeout=5)
    return Phoenix(ws, vsn), connected, detail


TODOS = {"event": "*", "schema": "public", "table": "todos"}


async def in_thread_async(function, *args):
    return await sync_to_async(in_thread)(function, *args)


@pytest.mark.parametrize("vsn", frames.VERSIONS)
def test_bad_frames_get_an_error_reply_or_a_close_code(app, vsn):
    async def body():
        closes = {}
        for name, send in {
            "not json": lambda p: p.raw(text="{nope"),
            "wrong arity": lambda p: p.raw(text='["1", "1", "realtime:a"]'),
            "a number": lambda p: p.raw(text="42"),
            "binary garbage": lambda p: p.raw(data=b"\x07\x01\x02"),
            "huge": lambda p: p.raw(text="x" * (300 * 1024)),
        }.items():
            socket, connected, _ = await phoenix(app, vsn=vsn)
            assert connected
            await send(socket)
            closes[name] = (await socket.frame())[1]
        assert closes == {
            "not json": 1007, "wrong arity": 1007, "a number": 1007, "binary garbage": 1007,
            "huge": 1009,
        }  # fmt: skip

        socket, _, _ = await phoenix(app, vsn=vsn)
        ref = await socket.push("realtime:room", "broadcast", {"event": "x", "payload": {}})
        assert await socket.reply(ref) == {
            "status": "error",
            "response": {"reason": "unmatched topic"},
        }
        ref = await socket.push("phoenix", "nonsense", {})
        assert (await socket.reply(ref))["status"] == "error"
        ref = await socket.push("room", "phx_join", {"config": {}})  # no realtime: prefix
        assert (await socket.reply(ref))["status"] == "error"
        assert (await socket.join("room"))["status"] == "ok"
        ref = await socket.push("realtime:room", "nonsense", {}, join_ref=socket.ref_of)
        assert (await socket.reply(ref))["response"] == {"reason": "unknown event"}
        token, _ = await in_thread_async(app.end_user)
        for bad in ("user_id=like.7", "user_id", "a.b=eq.1", "n=in.1,2"):
            reply = await socket.join("todos", token=token, changes=[{**TODOS, "filter": bad}])
            assert reply["status"] == "error" and "filter" in reply["response"]["reason"], bad
        reply = await socket.join("todos", token=token, changes=[{**TODOS, "schema": "auth"}])
        assert "public" in reply["response"]["reason"]
        reply = await socket.join("todos", token=token, changes=[{**TODOS, "table": "nope"}])
        assert "no table" in reply["response"]["reason"]
        ref = await socket.push("phoenix", "heartbeat", {})
        assert await socket.reply(ref) == {"status": "ok", "response": {}}  # still open
        await socket.ws.disconnect()

    run(body)


def test_handshakes_without_a_valid_key_or_version_are_refused(app):
    async def body():
        outcomes = {}
        for name, query in {
            "no key": "vsn=2.0.0",
            "bad key": "apikey=sb_publishable_nope&vsn=2.0.0",
            "bad vsn": f"apikey={app.publishable}&vsn=3.0.0",
        }.items():
            _, connected, code = await phoenix(app, query=query)
            outcomes[name] = (connected, code)
        other = "/p/" + "a" * 20 + PATH  # a ref the key is not of
        _, connected, code = await phoenix(app, path=other)
        outcomes["other ref"] = (connected, code)
        _, connected, _ = await phoenix(app, path=f"/p/{app.ref}{PATH}")
        outcomes["own ref"] = connected
        assert outcomes == {
            "no key": (False, 4401), "bad key": (False, 4401), "bad vsn": (False, 1002),
            "other ref": (False, 4401), "own ref": True,
        }  # fmt: skip

    run(body)


def test_the_native_protocol_still_answers_on_the_shared_path(app):
    async def body():
        ws = WebsocketCommunicator(application, PATH, subprotocols=["platform.realtime.v1"])
        connected, subprotocol = await ws.connect()
        assert connected and subprotocol == "platform.realtime.v1"
        await ws.send_json_to({"type": "auth", "token": "not-a-token"})
        assert (await ws.receive_output())["code"] == 4401  # the platform's auth message

    run(body)


def test_a_token_sent_on_the_open_socket_reauthorizes_its_channels(app):
    """Joins decide with the socket's caller: the key alone may not read todos; an end
    user's token (in a join, or an ``access_token`` message) may, for their own rows; a
    token that fails closes the channels it came on."""

    async def body():
        (ann, ann_id), (bob, bob_id) = [await in_thread_async(app.end_user) for _ in range(2)]
        socket, _, _ = await phoenix(app)
        reply = await socket.join("todos", changes=[TODOS])
        assert reply["status"] == "error" and "Unauthorized" in reply["response"]["reason"]
        reply = await socket.join("todos", token=ann, changes=[TODOS])
        assert reply["status"] == "ok", reply
        assert reply["response"]["postgres_changes"][0]["table"] == "todos"
        await in_thread_async(app.write, ann, "post", "", {"title": "ann's"})
        (change,) = await socket.events("postgres_changes")
        record = change[4]["data"]["record"]
        assert record["user_id"] == ann_id and record["title"] == "ann's"
        assert list(record)[:4] == ["id", "created_at", "updated_at", "user_id"]
        assert record["created_at"] and change[4]["data"]["commit_timestamp"].endswith("Z")

        await socket.push("realtime:todos", "access_token", {"access_token": bob},
                          join_ref=socket.ref_of)  # fmt: skip
        await in_thread_async(app.write, ann, "post", "", {"title": "ann's second"})
        await in_thread_async(app.write, bob, "post", "", {"title": "bob's"})
        changes = await socket.events("postgres_changes")
        assert [c[4]["data"]["record"]["title"] for c in changes] == ["bob's"]
        assert changes[0][4]["data"]["record"]["user_id"] == bob_id

        await socket.push("realtime:todos", "access_token", {"access_token": "garbage"},
                          join_ref=socket.ref_of)  # fmt: skip
        system = await socket.frame()
        assert system[3] == "system" and system[4]["status"] == "error"
        assert (await socket.frame())[3] == "phx_close"
        ref = await socket.push("realtime:todos", "broadcast", {"event": "x"})
        assert (await socket.reply(ref))["response"] == {"reason": "unmatched topic"}
        await socket.ws.disconnect()

    run(body)


def test_private_channels_follow_the_channel_rules(app):
    async def body():
        token, _ = await in_thread_async(app.end_user)
        socket, _, _ = await phoenix(app)
        reply = await socket.join("vip", token=token, private=True)
        assert reply["status"] == "error" and "private" in reply["response"]["reason"]
        await in_thread_async(_channel_rule, app.ref, "vip", "select")
        assert (await socket.join("vip", token=token, private=True))["status"] == "ok"
        reply = await socket.join("vip", private=True)  # the key alone: no rule for anon
        assert reply["status"] == "ok"  # the token of the socket still applies
        ref = await socket.push(
            "realtime:vip", "broadcast", {"type": "broadcast", "event": "e", "payload": {}},
            join_ref=socket.ref_of,
        )  # fmt: skip
        reply = await socket.reply(ref)  # no insert rule: sending is refused
        assert reply["status"] == "error" and "send" in reply["response"]["reason"]
        await socket.ws.disconnect()

        anon, _, _ = await phoenix(app)
        reply = await anon.join("vip", private=False)  # a rule names it: private anyway
        assert reply["status"] == "error" and "Unauthorized" in reply["response"]["reason"]
        await anon.ws.disconnect()

    run(body)


def _channel_rule(ref, channel, operation):
    """An access rule naming ``channel``, set by the demo org's owner."""
    owner = get_user_model().objects.get(username="owner@demo.example")
    with tenant_context(TenantContext(user_id=owner.pk)):
        membership = tenant_selectors.membership_for(user=owner, org_ref="demo")
    context = TenantContext(org_id=membership.org_id, user_id=owner.pk, role=membership.role)
    with tenant_context(context):
        project = tenant_selectors.project_list(org=membership.org).get(ref=ref)
        access_services.rule_set(
            membership=membership,
            project=project,
            resource_type="channel",
            channel=channel,
            operation=operation,
            client_role="authenticated",
            kind="everyone",
        )


def test_changes_arrive_in_commit_order_under_concurrent_writers(app):
    """Writers race to increment one row through the data services (each write names the
    version it read, so they serialise on the row): the subscriber sees 1, 2, ... in the
    order they committed."""
    writers, increments = 4, 5
    server = identify({"HTTP_APIKEY": app.secret})

    def writer(record_id, done):
        try:
            for _ in range(increments):
                while True:
                    with tenant_context(server.tenant_context()):
                        todos = data_selectors.collection_get(
                            org_id=server.org_id, project_id=server.project_id, name="todos"
                        )
                        current = Record.objects.get(pk=record_id)
                    try:
                        with tenant_context(server.tenant_context()):
                            data_services.record_update(
                                client=server, collection=todos, record_id=record_id,
                                data={"n": current.data["n"] + 1}, merge=True,
                                expected_version=current.version,
                            )  # fmt: skip
                        break
                    except VersionMismatch:
                        continue
        finally:
            connections.close_all()
            done.append(1)

    async def body():
        socket, _, _ = await phoenix(app, key=app.secret)  # the secret key reads every row
        created = await in_thread_async(lambda: app.write(None, "post", "", {"n": 0}).json()["id"])
        reply = await socket.join("todos", changes=[{**TODOS, "event": "UPDATE"}])
        assert reply["status"] == "ok"
        done: list = []
        threads = [threading.Thread(target=writer, args=(created, done)) for _ in range(writers)]
        for thread in threads:
            thread.start()
        seen = []
        while len(seen) < writers * increments:
            frame = await socket.frame(timeout=15)
            if frame[3] == "postgres_changes":
                seen.append(frame[4]["data"]["record"]["n"])
        for thread in threads:
            thread.join()
        assert seen == list(range(1, writers * increments + 1))
        await socket.ws.disconnect()

    run(body)


def test_a_socket_that_goes_away_leaves_presence_and_its_subscriptions(app):
    async def body():
        token, _ = await in_thread_async(app.end_user)
        a, _, _ = await phoenix(app, vsn="1.0.0")
        b, _, _ = await phoenix(app, vsn="2.0.0")
        presence = {"presence": {"key": "", "enabled": True}}
        assert (await a.join("lobby", token=token, changes=[TODOS], **presence))["status"] == "ok"
        assert (await a.frame())[3] == "system"
        state = await a.frame()
        assert state[3] == "presence_state" and state[4] == {}
        assert (await b.join("lobby", presence={"key": "b", "enabled": True}))["status"] == "ok"
        await b.frame()  # its presence_state
        ref = await a.push(
            "realtime:lobby", "presence", {"type": "presence", "event": "track",
                                           "payload": {"mood": "fine"}}, join_ref=a.ref_of,
        )  # fmt: skip
        assert (await a.reply(ref))["status"] == "ok"
        diff = (await b.frame())[4]
        (key,) = diff["joins"]
        assert diff["joins"][key]["metas"][0]["mood"] == "fine" and diff["leaves"] == {}
        await a.ws.disconnect()
        diff = (await b.frame())[4]
        assert list(diff["leaves"]) == [key] and diff["joins"] == {}
        await b.ws.disconnect()

    run(body)


def _broadcast_push(join_ref, ref, topic, event, payload: bytes) -> bytes:
    """realtime-js's 2.0.0 frame for a binary broadcast (kind 3, payload encoding 0)."""
    fields = [join_ref.encode(), ref.encode(), topic.encode(), event.encode(), b""]
    header = bytes([frames.USER_BROADCAST_PUSH, *map(len, fields), frames.BINARY])
    return header + b"".join(fields) + payload


def test_a_binary_broadcast_reaches_2_0_0_sockets_as_bytes(app):
    async def body():
        sender, _, _ = await phoenix(app)
        binary, _, _ = await phoenix(app)
        json_only, _, _ = await phoenix(app, vsn="1.0.0")
        for socket in (sender, binary, json_only):
            assert (await socket.join("bin"))["status"] == "ok"
        await sender.raw(data=_broadcast_push(sender.ref_of, "99", "realtime:bin", "blob", b"\0\1"))
        assert await sender.reply("99") == {"status": "ok", "response": {}}
        got = await binary.frame()
        assert got[2:] == ("realtime:bin", "broadcast", {"event": "blob", "payload": b"\0\1"})
        assert await json_only.events("broadcast", timeout=0.5) == []  # JSON only: skipped
        for socket in (sender, binary, json_only):
            await socket.ws.disconnect()

    run(body)


def test_a_socket_whose_token_expired_is_closed_with_4401(app, settings):
    settings.CLIENT_ACCESS_TOKEN_LIFETIME = timedelta(seconds=4)

    async def body():
        token, _ = await in_thread_async(app.end_user)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        socket, _, _ = await phoenix(app)
        assert (await socket.join("room", token=token))["status"] == "ok"
        await asyncio.sleep(max(0.0, expires - time.time() + 0.5))
        await socket.push("realtime:room", "broadcast", {"event": "e"}, join_ref=socket.ref_of)
        assert await socket.frame() == ("closed", 4401)

    run(body)


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("n=eq.7", {"n": 7}, True),
        ("n=eq.7", {"n": "7"}, True),
        ("n=eq.7", {"n": 8}, False),
        ("done=eq.true", {"done": True}, True),
        ("title=eq.a b", {"title": "a b"}, True),
        ("n=neq.7", {"n": 8}, True),
        ("n=neq.7", {"n": None}, False),  # NULL is not unequal, as in SQL
        ("n=neq.7", {}, False),
        ("n=gt.2", {"n": 10}, True),
        ("n=gt.2", {"n": "10"}, False),  # numbers compare with numbers
        ("title=lt.b", {"title": "a"}, True),
        ('title=in.(a,"b,c")', {"title": "b,c"}, True),
        ("n=in.(1,2)", {"n": 2}, True),
        ("n=in.(1,2)", {"n": 3}, False),
    ],
)
def test_row_filters_read_untyped_values_as_postgrest_does(text, row, expected):
    assert rows.parse_filter(text).matches(row) is expected


def test_a_phoenix_socket_and_a_client_socket_share_the_projects_channels(app):
    async def body():
        client_path = f"/client/v1/realtime/?apikey={app.publishable}"
        native = WebsocketCommunicator(application, client_path)
        assert (await native.connect())[0]
        assert (await native.receive_json_from())["type"] == "ready"
        await native.send_json_to({"type": "join", "channel": "shared"})
        assert (await native.receive_json_from())["type"] == "presence_state"
        socket, _, _ = await phoenix(app, vsn="1.0.0")
        assert (await socket.join("shared"))["status"] == "ok"

        message = {"type": "broadcast", "event": "hello", "payload": {"from": "phoenix"}}
        await socket.push("realtime:shared", "broadcast", message, join_ref=socket.ref_of)
        heard = await native.receive_json_from()
        while heard["type"] == "presence_diff":  # its own join, tracked
            heard = await native.receive_json_from()
        assert (heard["type"], heard["event"], heard["payload"]) == (
            "broadcast", "hello", {"from": "phoenix"}
        )  # fmt: skip
        await native.send_json_to(
            {"type": "broadcast", "channel": "shared", "event": "hi", "payload": {"n": 1}}
        )
        (frame,) = await socket.events("broadcast")
        assert frame[4] == {"type": "broadcast", "event": "hi", "payload": {"n": 1}}
        await native.disconnect()
        await socket.ws.disconnect()

    run(body)
