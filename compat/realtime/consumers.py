"""Supabase Realtime's websocket (Phoenix channels) at ``/realtime/v1/websocket``.

What ``@supabase/realtime-js`` speaks, on the client-app socket's machinery and decisions
(``realtime.client.ClientRealtimeConsumer``): the same identity (``endusers.identity``), the
same groups, presence store and heartbeats, and every change, broadcast and presence decided
by the access rules exactly as on ``/client/v1/realtime/``. Only the wire differs.

* Handshake: ``?apikey=<project key>&vsn=1.0.0|2.0.0`` (also under ``/p/<ref>/``). A bad key
  closes it with 4401; an unknown ``vsn`` with 1002. The key alone is the ``anon`` (or
  ``service_role``) caller until a ``phx_join`` or an ``access_token`` message brings an end
  user's token: the socket then acts as that end user, for all its channels, and re-checks
  each of them (a channel the new caller may not read is closed with a ``system`` error).
* ``phx_join`` on ``realtime:<name>`` with ``{config: {broadcast: {self, ack}, presence:
  {key, enabled}, postgres_changes: [{event, schema, table, filter}], private},
  access_token}``. ``table`` is a record collection of the key's project (schema ``public``),
  ``event`` is ``*``/``INSERT``/``UPDATE``/``DELETE``, ``filter`` one PostgREST-style
  condition (``compat.realtime.rows``). The reply echoes the entries with an ``id`` each;
  refusals are ``phx_reply`` errors with a ``reason``.
* ``broadcast`` (JSON, or the 2.0.0 binary frame) to the channel's other sockets (and to the
  sender with ``self``), always answered (what ``ack`` waits for); ``presence``
  ``track``/``untrack`` with ``presence_state`` after the join and ``presence_diff``
  (``metas`` with ``phx_ref``) after; ``phx_leave``; ``heartbeat`` on topic ``phoenix``.
* Channel names are the project's, shared with ``/client/v1/realtime/`` sockets. A channel
  some access rule of type "channel" names is private: its "select" rule decides joining and
  receiving, "insert" sending and being tracked. ``private: true`` on a channel no rule names
  is refused, as Supabase refuses a private channel without a policy.

Malformed frames close the socket (1007; 1009 for a frame over ``MAX_FRAME`` bytes); a frame
for a topic the socket has not joined, or an unknown event, gets a ``phx_reply`` error.
"""

import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import structlog
from channels.db import database_sync_to_async

from compat.realtime import frames, rows
from endusers.identity import ClientAuthFailed, identify
from realtime import presence, selectors
from realtime.client import ClientRealtimeConsumer, _opens, handshake_meta
from realtime.consumers import MAX_CHANNEL_NAME, MAX_PAYLOAD_KEYS, MAX_SUBSCRIPTIONS
from realtime.groups import broadcast_group

logger = structlog.get_logger(__name__)

TOPIC_PREFIX = "realtime:"
MAX_FRAME = 256 * 1024  # Supabase's own limit on a broadcast message
MAX_TOPICS = 100
MAX_EVENT = 255  # a binary frame's field
EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
CLOSE_PROTOCOL = 1002
CLOSE_MALFORMED = 1007
CLOSE_TOO_BIG = 1009


@dataclass
class Topic:
    """One joined channel of the socket: its name and what its join asked for."""

    channel: str
    join_ref: str | None
    echo: bool
    presence_key: str
    presence: bool
    subscriptions: list[str] = field(default_factory=list)
    tracked: str | None = None  # the phx_ref of this socket's presence, when tracked


class Refused(Exception):
    """A join (or a re-check) the caller may not make: its ``reason`` goes to the client."""


def _bool(config: dict, section: str, key: str) -> bool:
    value = config.get(section)
    return bool(value.get(key)) if isinstance(value, dict) else False


def _entry(socket: str, user_id, username: str, meta: dict, key: str, ref: str) -> dict:
    """A presence entry on the channel group, in the shape both protocols render."""
    return {
        "presence_ref": socket,
        "user_id": user_id,
        "username": username,
        "meta": meta,
        "key": key,
        "phx_ref": ref,
    }


def _presences(entries) -> dict:
    """Phoenix's ``{key: {metas: [{phx_ref, ...meta}]}}`` of presence entries (a native
    socket's entry is keyed by its user, or its socket when it has none)."""
    out: dict[str, dict] = {}
    for entry in entries:
        socket = entry.get("presence_ref")
        key = entry.get("key") or str(entry.get("user_id") or socket)
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        ref = entry.get("phx_ref") or socket
        out.setdefault(key, {"metas": []})["metas"].append({**meta, "phx_ref": ref})
    return out


class PhoenixConsumer(ClientRealtimeConsumer):
    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"), max_num_fields=10)
        self.vsn = (query.get("vsn") or [frames.VSN_1])[0]
        self.topics: dict[str, Topic] = {}
        self.token: str | None = None
        self.pg_counter = 0
        if self.vsn not in frames.VERSIONS:
            self._init_state()
            await self.close(code=CLOSE_PROTOCOL)
            return
        await super().connect()

    async def _accepted(self):
        offered = self.scope.get("subprotocols") or []
        await self.accept(subprotocol="phoenix" if "phoenix" in offered else None)

    # --- frames ----------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        size = len(text_data) if text_data is not None else len(bytes_data or b"")
        if text_data is not None and size > MAX_FRAME // 4:  # up to 4 bytes a character
            size = len(text_data.encode())
        if size > MAX_FRAME:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            if text_data is not None:
                frame = frames.decode_text(text_data, self.vsn)
            else:
                frame = frames.decode_binary(bytes_data or b"")
        except frames.FrameError as exc:
            logger.info("realtime_phoenix_bad_frame", reason=str(exc))
            await self.close(code=CLOSE_MALFORMED)
            return
        await self._dispatch(frame)

    async def _push(self, topic: str, event: str, payload: dict, *, join_ref=None, ref=None):
        frame = frames.Frame(join_ref, ref, topic, event, payload)
        await self.send(text_data=frames.encode(frame, self.vsn))

    async def _reply(self, frame: frames.Frame, status: str, response: dict):
        await self._push(
            frame.topic,
            "phx_reply",
            {"status": status, "response": response},
            join_ref=frame.join_ref,
            ref=frame.ref,
        )

    async def _dispatch(self, frame: frames.Frame):
        if frame.topic == "phoenix":
            if frame.event != "heartbeat":
                await self._reply(frame, "error", {"reason": "unknown event"})
                return
            await self._refresh_presences()
            await self._reply(frame, "ok", {})
            return
        if frame.event == "access_token" and frame.topic in self.topics:
            await self._access_token(frame)
            return
        if self._expired():
            await self.close(code=4401)
            return
        if frame.event == "phx_join":
            await self._phx_join(frame)
            return
        if frame.topic not in self.topics:
            await self._reply(frame, "error", {"reason": "unmatched topic"})
            return
        handler = {
            "phx_leave": self._phx_leave,
            "broadcast": self._phx_broadcast,
            "presence": self._phx_presence,
        }.get(frame.event)
        if handler is None:
            await self._reply(frame, "error", {"reason": "unknown event"})
            return
        await handler(frame, self.topics[frame.topic])

    # --- identity --------------------------------------------------------------------------
    async def _use_token(self, token) -> str | None:
        """Act as the caller of ``token`` (an end user's JWT, or the key); None when done,
        else why not."""
        if not isinstance(token, str) or not token or token == self.token:
            return None
        meta = {**handshake_meta(self.scope), "HTTP_AUTHORIZATION": f"Bearer {token}"}
        ref = self.scope.get("url_route", {}).get("kwargs", {}).get("ref")
        try:
            client = await database_sync_to_async(identify)(meta, ref=ref)
        except ClientAuthFailed as exc:
            logger.info("realtime_client_refused", code=exc.code)
            return exc.message
        await self._adopt(client)
        self.token = token
        await self._reauthorize()
        return None

    async def _access_token(self, frame, *args):
        refusal = await self._use_token(frame.payload.get("access_token"))
        if refusal is not None:
            await self._close_topic(frame.topic, refusal)

    async def _reauthorize(self):
        """Check every joined channel again for the socket's (new) caller."""
        for name, topic in list(self.topics.items()):
            try:
                await self._check_channel(topic.channel, private=False)
                for sub_id in topic.subscriptions:
                    await self._check_collection(self.subscriptions[sub_id]["collection_id"])
            except Refused as exc:
                await self._close_topic(name, str(exc))
                continue
            if topic.tracked and not await self._channel_may(topic.channel, "insert"):
                await self._untrack(topic)

    async def _close_topic(self, name: str, reason: str):
        topic = self.topics.get(name)
        if topic is None:
            return
        await self._push(
            name,
            "system",
            {"extension": "system", "status": "error", "message": reason},
            join_ref=topic.join_ref,
        )
        await self._drop_topic(name)
        await self._push(name, "phx_close", {}, join_ref=topic.join_ref)

    # --- join and leave --------------------------------------------------------------------
    async def _check_channel(self, channel: str, *, private: bool):
        if not await self._channel_may(channel, "select", fresh=True):
            raise Refused(
                f"Unauthorized: You do not have permissions to read from this Channel topic: "
                f"{channel}"
            )
        if private and not self._is_service() and not self.rules[("private", None, channel)][0]:
            raise Refused(
                f"Unauthorized: no access rule makes this Channel topic private: {channel}"
            )

    async def _check_collection(self, collection_id: str):
        if self._is_service():
            return
        rule = await self._rule("select", collection_id=collection_id, fresh=True)
        if not _opens(rule, self.client):
            raise Refused("Unauthorized: the access rules allow no reads of this table")

    async def _changes(self, wanted) -> list[tuple[dict, object, object]]:
        """The join's ``postgres_changes``: (entry, collection, row filter) each, or Refused."""
        if not isinstance(wanted, list) or len(wanted) > MAX_SUBSCRIPTIONS - len(
            self.subscriptions
        ):
            raise Refused(f"postgres_changes is a list (at most {MAX_SUBSCRIPTIONS} in all)")
        out = []
        for entry in wanted:
            if not isinstance(entry, dict) or entry.get("event") not in EVENTS:
                raise Refused("each postgres_changes entry has an event: *, INSERT, UPDATE, DELETE")
            if entry.get("schema", "public") != "public":
                raise Refused("postgres_changes: only the schema public holds collections")
            table = entry.get("table")
            if not isinstance(table, str) or not 0 < len(table) <= 64:
                raise Refused("postgres_changes: table (a collection's name) is required")
            try:
                row_filter = rows.parse_filter(entry.get("filter"))
            except rows.FilterError as exc:
                raise Refused(f"invalid filter: {exc}") from None
            found = await database_sync_to_async(selectors.client_collection_for)(
                client=self.client, collection=table
            )
            if found is None:
                raise Refused(f"postgres_changes: no table {table!r} in this project")
            await self._check_collection(str(found.pk))
            out.append((entry, found, row_filter))
        return out

    async def _phx_join(self, frame: frames.Frame):
        name = frame.topic.removeprefix(TOPIC_PREFIX)
        if not frame.topic.startswith(TOPIC_PREFIX) or not 0 < len(name) <= MAX_CHANNEL_NAME:
            reason = f"a topic is realtime:<name>, the name 1-{MAX_CHANNEL_NAME} characters"
            await self._reply(frame, "error", {"reason": reason})
            return
        config = frame.payload.get("config") or {}
        if not isinstance(config, dict):
            await self._reply(frame, "error", {"reason": "config is an object"})
            return
        if frame.topic in self.topics:  # a rejoin replaces the earlier join
            await self._drop_topic(frame.topic)
        if len(self.topics) >= MAX_TOPICS:
            await self._reply(frame, "error", {"reason": f"at most {MAX_TOPICS} channels"})
            return
        refusal = await self._use_token(frame.payload.get("access_token"))
        if refusal is not None:
            await self._reply(frame, "error", {"reason": refusal})
            return
        try:
            await self._check_channel(name, private=config.get("private") is True)
            changes = await self._changes(config.get("postgres_changes") or [])
        except Refused as exc:
            await self._reply(frame, "error", {"reason": str(exc)})
            return
        presence_config = config.get("presence") if isinstance(config.get("presence"), dict) else {}
        key = presence_config.get("key")
        topic = Topic(
            channel=name,
            join_ref=frame.join_ref or frame.ref,
            echo=_bool(config, "broadcast", "self"),
            presence_key=key if isinstance(key, str) and 0 < len(key) <= 255 else str(uuid.uuid4()),
            presence=presence_config.get("enabled", True) is not False,
        )
        self.topics[frame.topic] = topic
        group = broadcast_group(self.scope_key, name)
        await self.channel_layer.group_add(group, self.channel_name)
        self.channels_joined[(self.scope_key, name)] = group
        answered = []
        for entry, found, row_filter in changes:
            self.pg_counter += 1
            sub_id = await self._register_subscription(
                str(self.client.org_id),
                str(found.pk),
                row_filter,
                topic=frame.topic,
                pg_id=self.pg_counter,
                pg_event=entry["event"],
                table=found.name,
            )
            topic.subscriptions.append(sub_id)
            answered.append({**entry, "id": self.pg_counter})
        await self._reply(frame, "ok", {"postgres_changes": answered} if answered else {})
        if answered:
            await self._push(
                frame.topic,
                "system",
                {
                    "message": "Subscribed to PostgreSQL",
                    "status": "ok",
                    "extension": "postgres_changes",
                    "channel": name,
                },
                join_ref=topic.join_ref,
            )
        if topic.presence:
            state = await database_sync_to_async(presence.state)(self.scope_key, name)
            entries = [
                _entry(socket, e["user_id"], e["username"], e["meta"], e.get("key"), e.get("ref"))
                for socket, e in state.items()
            ]
            await self._push(
                frame.topic, "presence_state", _presences(entries), join_ref=topic.join_ref
            )

    async def _drop_topic(self, name: str):
        topic = self.topics.pop(name, None)
        if topic is None:
            return
        for sub_id in topic.subscriptions:
            await self._drop_subscription(sub_id)
        if topic.tracked:
            await self._untrack(topic)
        group = self.channels_joined.pop((self.scope_key, topic.channel), None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _leave(self, scope_key: str, channel: str, group: str):
        """A closing socket leaves its channels (``ClientRealtimeConsumer.disconnect``)."""
        await self._drop_topic(TOPIC_PREFIX + channel)
        self.channels_joined.pop((scope_key, channel), None)
        await self.channel_layer.group_discard(group, self.channel_name)

    async def _phx_leave(self, frame, topic):
        await self._drop_topic(frame.topic)
        await self._reply(frame, "ok", {})

    # --- broadcast and presence ------------------------------------------------------------
    async def _phx_broadcast(self, frame, topic: Topic):
        event = frame.payload.get("event")
        if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT:
            await self._reply(frame, "error", {"reason": "a broadcast has an event name"})
            return
        refusal = await self._send_refusal(self.scope_key, topic.channel)
        if refusal is not None:
            await self._reply(frame, "error", {"reason": refusal[1]})
            return
        await self._publish_broadcast(
            self.scope_key, topic.channel, event, frame.payload.get("payload"), echo=topic.echo
        )
        # Acknowledged with or without ``ack``: realtime-js waits for the reply only with it,
        # but every push it sends holds a timer until a reply comes.
        await self._reply(frame, "ok", {})

    async def _deliver_broadcast(self, event):
        name = TOPIC_PREFIX + event["channel"]
        topic = self.topics.get(name)
        if topic is None:
            return
        payload = event["payload"]
        if self.vsn == frames.VSN_2:
            try:
                data = frames.encode_user_broadcast(name, event["event"], payload)
            except frames.FrameError:
                return
            await self.send(bytes_data=data)
            return
        if isinstance(payload, bytes):
            return  # 1.0.0 is JSON only
        message = {"type": "broadcast", "event": event["event"], "payload": payload}
        await self._push(name, "broadcast", message, join_ref=topic.join_ref)

    async def _phx_presence(self, frame, topic: Topic):
        kind = frame.payload.get("event")
        if kind == "untrack":
            if topic.tracked:
                await self._untrack(topic)
            await self._reply(frame, "ok", {})
            return
        meta = frame.payload.get("payload") or {}
        if kind != "track" or not isinstance(meta, dict) or len(meta) > MAX_PAYLOAD_KEYS:
            reason = f"presence is track (an object of at most {MAX_PAYLOAD_KEYS} keys) or untrack"
            await self._reply(frame, "error", {"reason": reason})
            return
        if not await self._channel_may(topic.channel, "insert"):
            reason = "Unauthorized: the access rules do not let you track presence here"
            await self._reply(frame, "error", {"reason": reason})
            return
        left = self._entry(topic, {}) if topic.tracked else None
        topic.tracked = uuid.uuid4().hex[:16]
        joined = self._entry(topic, meta)
        await database_sync_to_async(presence.track)(
            self.scope_key,
            topic.channel,
            self.channel_name,
            user_id=self.identity.user_id,
            username=self.identity.username,
            meta=meta,
            key=topic.presence_key,
            ref=topic.tracked,
        )
        await self._presence_diff(topic, [joined], [left] if left else [])
        await self._reply(frame, "ok", {})

    def _entry(self, topic: Topic, meta: dict) -> dict:
        return _entry(
            self.channel_name,
            self.identity.user_id,
            self.identity.username,
            meta,
            topic.presence_key,
            topic.tracked,
        )

    async def _untrack(self, topic: Topic):
        left = self._entry(topic, {})
        topic.tracked = None
        await database_sync_to_async(presence.untrack)(
            self.scope_key, topic.channel, self.channel_name
        )
        await self._presence_diff(topic, [], [left])

    async def _presence_diff(self, topic: Topic, joins: list, leaves: list):
        await self.channel_layer.group_send(
            broadcast_group(self.scope_key, topic.channel),
            {
                "type": "presence.diff",
                "org_id": self.scope_key,
                "channel": topic.channel,
                "joins": joins,
                "leaves": leaves,
            },
        )

    async def _deliver_presence_diff(self, event):
        name = TOPIC_PREFIX + event["channel"]
        topic = self.topics.get(name)
        if topic is None or not topic.presence:
            return
        payload = {"joins": _presences(event["joins"]), "leaves": _presences(event["leaves"])}
        await self._push(name, "presence_diff", payload, join_ref=topic.join_ref)

    # --- record changes ----------------------------------------------------------------------
    async def _passes(self, sub, event) -> bool:
        wanted = sub["pg_event"]
        if wanted != "*" and wanted != rows.TYPES[event["op"]]:
            return False
        return sub["filter"] is None or sub["filter"].matches(rows.row(event))

    async def _send_changes(self, sub_ids: list[str], event):
        shown = rows.row(event)
        by_topic: dict[str, list[dict]] = {}
        for sub_id in sub_ids:
            sub = self.subscriptions[sub_id]
            by_topic.setdefault(sub["topic"], []).append(sub)
        for name, subs in by_topic.items():
            topic = self.topics.get(name)
            if topic is None:
                continue
            payload = rows.change_payload(
                [sub["pg_id"] for sub in subs], subs[0]["table"], event, shown
            )
            await self._push(name, "postgres_changes", payload, join_ref=topic.join_ref)
