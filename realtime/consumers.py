"""The realtime websocket: record-change subscriptions, broadcast channels and presence.

Protocol (JSON text frames; every client message may carry a ``ref`` echoed in the reply):

    -> {"type": "auth", "token": "<JWT>"}        first message, unless the token came as the
                                                 subprotocol "bearer.<JWT>" (next to
                                                 "platform.realtime.v1"). Never in the URL.
    <- {"type": "ready", "user_id": 1, "instance": "app2"}   the app instance that holds the
                                                 socket (``PLATFORM_INSTANCE``)
    -> {"type": "subscribe", "org": "<slug|id>", "project": "<id>", "collection": "<name>",
        "filter": ["status:eq:\"open\"", "n:gte:2"]}   the data API's filter grammar
                                                 (see realtime/filters.py); optional.
                                                 "collection" is a name within "project", as in
                                                 the data API's URLs, or a collection id
                                                 (then "project" may be left out)
       "since": "<cursor>"                       optional: first replay what this subscription
                                                 would have received after that cursor
    <- {"type": "subscribed", "subscription": "s1", "collection": "<id>", "project": "<id>"}
    <- {"type": "change", "subscription": "s1", "op": "insert", "collection": ..., "id": ...,
        "record": {...}, "committed_at": ..., "cursor": "<opaque>"}
                                                 cursors increase per collection, in the
                                                 order the changes were published
    <- {"type": "resync_required", "subscription": "s1", "collection": "<id>"}
                                                 after "subscribed", instead of a replay: the
                                                 log no longer holds what followed "since";
                                                 re-list, then keep the live events
    -> {"type": "unsubscribe", "subscription": "s1"}
    -> {"type": "join", "org": ..., "channel": "room", "presence": {...}}
    <- {"type": "presence_state", "channel": "room", "presences": [...]}
    <- {"type": "presence_diff", "channel": "room", "joins": [...], "leaves": [...]}
    -> {"type": "broadcast", "org": ..., "channel": "room", "event": "cursor", "payload": {...}}
    <- {"type": "broadcast", "channel": "room", "event": "cursor", "payload": {...},
        "from_user": 2}
    -> {"type": "leave", "org": ..., "channel": "room"}
    -> {"type": "heartbeat"}                    <- {"type": "heartbeat"}
    <- {"type": "error", "code": "not_found" | "invalid" | ..., "message": ...}
    <- {"type": "unsubscribed", "subscription": "s1", "reason": "not_a_member"}
    <- {"type": "left", "channel": "room", "reason": "not_a_member"}
                                                 sent unasked when the user's membership is
                                                 removed, or "permission_denied" when it no
                                                 longer allows reading data; the socket stays

Close codes: 4401 not authenticated / token expired, 4001 session revoked, 4008 too slow to
authenticate.

Authorisation: at subscribe / join time the user must be a member of the org (a non-member,
like a collection the user cannot see, gets ``not_found``, as from the REST API). For every
event the consumer checks again: the event's org is the subscription's, the token has not
expired, the membership still exists and allows reading data (``has_org_perm``), and the row is
one the data API would show this user (``datastore.visibility.record_visible``, the twin of the
records' row-level security policy, on the event's ``owner_only`` and ``owner_id``).
Memberships are re-read from PostgreSQL at once when a member is removed or changes role
(``realtime.events.membership_changed``), and at most every ``REALTIME_MEMBERSHIP_TTL``
seconds otherwise.

Resuming: a client that lost its socket (an app instance died, the network dropped) connects
again, to any instance, and subscribes with ``"since"`` = the ``cursor`` of the last change it
received on that subscription. The consumer joins the collection's group first, then reads the
collection's replay log after the cursor (``realtime.replay``) and decides each logged event
exactly as a live one (``_decide``: expiry, membership, row visibility, filter), then the live
events follow; a live event the replay already covered is skipped, so nothing comes twice and
the order is the log's. The same log closes gaps in live delivery: every event names the
cursor logged before it (``prev``), and a socket that receives an event whose ``prev`` it has
not seen (another process published in between and its event is still on the way, or the
channel layer dropped one) first reads and decides the missing ones, so each socket receives a
collection's changes in cursor order. A ``since`` that is not a cursor is an ``invalid`` error
(no subscription); one the log cannot continue (trimmed past ``REALTIME_REPLAY_MAXLEN``,
expired after ``REALTIME_REPLAY_TTL_SECONDS`` without changes, followed by changes that were
never logged, or Redis unavailable now) gets ``resync_required``.
"""

import asyncio
import time
from dataclasses import dataclass

import structlog
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from authn.services.session_check import AuthFailed, authenticate_access_token
from cache.breaker import RedisUnavailable, redis_call
from datastore.visibility import record_visible
from observability.consumers import ObservedConsumer
from realtime import filters, presence, replay, selectors
from realtime.groups import broadcast_group, collection_group, session_group, user_group
from tenants.constants import VIEW_DATA
from tenants.permissions import has_org_perm

logger = structlog.get_logger(__name__)

SUBPROTOCOL = "platform.realtime.v1"
BEARER_PREFIX = "bearer."
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4001
CLOSE_AUTH_TIMEOUT = 4008
MAX_SUBSCRIPTIONS = 100
MAX_CHANNEL_NAME = 64
MAX_PAYLOAD_KEYS = 64
MAX_REF = 64  # an org slug or id, a project or collection id or name
NOT_A_MEMBER = "not_a_member"


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    session_id: str  # the token's ``sid``
    expires_at: float  # epoch seconds; the socket is closed once it passes


class RealtimeConsumer(ObservedConsumer, AsyncJsonWebsocketConsumer):
    def _init_state(self):
        self.identity = None
        self.subscriptions: dict[str, dict] = {}
        self.group_subs: dict[str, set[str]] = {}
        # group -> the cursor of the last change decided for all its subscriptions (None: no
        # change seen yet); live events at or before it were replayed or filled in already.
        self.horizons: dict[str, str | None] = {}
        self.channels_joined: dict[tuple[str, str], str] = {}  # (org_id, channel) -> group
        self.memberships: dict[str, tuple[object, float]] = {}  # org_id -> (membership, read at)
        self.org_refs: dict[str, str] = {}  # what the client called the org -> org id
        self.counter = 0
        self.auth_timer = None

    async def connect(self):
        self._init_state()
        offered = self.scope.get("subprotocols") or []
        token = next(
            (p[len(BEARER_PREFIX) :] for p in offered if p.startswith(BEARER_PREFIX)), None
        )
        if token is not None:
            if not await self._authenticate(token):
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            await self.accept(subprotocol=SUBPROTOCOL)
            await self._send_ready()
            return
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self.auth_timer = asyncio.get_running_loop().call_later(
            getattr(settings, "REALTIME_AUTH_TIMEOUT", 10),
            lambda: asyncio.ensure_future(self._auth_timeout()),
        )

    async def _auth_timeout(self):
        if self.identity is None:
            await self.close(code=CLOSE_AUTH_TIMEOUT)

    async def _authenticate(self, raw: str) -> bool:
        try:
            authenticated = await database_sync_to_async(authenticate_access_token)(raw)
        except AuthFailed:
            logger.info("realtime_auth_refused")
            return False
        self.identity = Identity(
            user_id=authenticated.user.pk,
            username=authenticated.user.get_username(),
            session_id=str(authenticated.session_id),
            expires_at=float(authenticated.token["exp"]),
        )
        structlog.contextvars.bind_contextvars(user_id=self.identity.user_id)
        await self.channel_layer.group_add(user_group(self.identity.user_id), self.channel_name)
        await self.channel_layer.group_add(
            session_group(self.identity.session_id), self.channel_name
        )
        logger.info("realtime_authenticated")
        return True

    async def _send_ready(self):
        await self.send_json(
            {
                "type": "ready",
                "user_id": self.identity.user_id,
                "instance": settings.PLATFORM_INSTANCE,
            }
        )

    async def disconnect(self, code):
        if self.auth_timer:
            self.auth_timer.cancel()
        for group in list(self.group_subs):
            await self.channel_layer.group_discard(group, self.channel_name)
        for (org_id, channel), group in list(self.channels_joined.items()):
            await self._leave(org_id, channel, group)
        if self.identity:
            await self.channel_layer.group_discard(
                user_group(self.identity.user_id), self.channel_name
            )
            await self.channel_layer.group_discard(
                session_group(self.identity.session_id), self.channel_name
            )

    # --- client messages -----------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not text_data:  # the protocol is JSON text; a binary frame is refused, not fatal
            await self._error(None, "invalid", "messages are JSON text frames")
            return
        await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self._error(None, "invalid", "messages are JSON objects")
            return
        kind, ref = content.get("type"), content.get("ref")
        if self.identity is None:
            if kind != "auth" or not isinstance(content.get("token"), str):
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if not await self._authenticate(content["token"]):
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if self.auth_timer:
                self.auth_timer.cancel()
            await self._send_ready()
            return
        if self._expired():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "join": self._join,
            "leave": self._client_leave,
            "broadcast": self._broadcast,
            "heartbeat": self._heartbeat,
        }.get(kind)
        if handler is None:
            await self._error(ref, "invalid", "unknown message type")
            return
        await handler(content, ref)

    async def decode_json(self, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def _error(self, ref, code: str, message: str):
        await self.send_json({"type": "error", "ref": ref, "code": code, "message": message})

    def _expired(self) -> bool:
        return self.identity is not None and time.time() >= self.identity.expires_at

    async def _membership(self, org_id: str, *, fresh: bool = False):
        """The socket user's membership in ``org_id`` (None: not a member), cached a while."""
        ttl = getattr(settings, "REALTIME_MEMBERSHIP_TTL", 15)
        cached = self.memberships.get(org_id)
        if not fresh and cached and time.monotonic() - cached[1] < ttl:
            return cached[0]
        membership = await database_sync_to_async(selectors.membership_for)(
            user_id=self.identity.user_id, org_ref=org_id
        )
        self.memberships[org_id] = (membership, time.monotonic())
        return membership

    async def _resolve_org(self, content, ref):
        """The membership in the org the message names, or None (the error already sent)."""
        org_ref = content.get("org")
        if not isinstance(org_ref, str) or not org_ref or len(org_ref) > MAX_REF:
            await self._error(ref, "invalid", "org is required")
            return None
        membership = await database_sync_to_async(selectors.membership_for)(
            user_id=self.identity.user_id, org_ref=org_ref
        )
        if membership is None:
            await self._error(ref, "not_found", "Not found.")
            return None
        org_id = str(membership.org_id)
        self.memberships[org_id] = (membership, time.monotonic())
        self.org_refs[org_ref] = org_id
        self.org_refs[org_id] = org_id
        return membership

    async def _subscribe(self, content, ref):
        collection, project = content.get("collection"), content.get("project", None)
        if not _ref(collection):
            await self._error(ref, "invalid", "collection (a name or an id) is required")
            return
        if project is not None and not _ref(project):
            await self._error(ref, "invalid", "project is a project id")
            return
        if project is None and not selectors.is_id(collection):
            await self._error(ref, "invalid", "a collection name needs its project")
            return
        try:
            conditions = filters.parse_filter(content.get("filter"))
        except filters.FilterError as exc:
            await self._error(ref, "invalid", str(exc))
            return
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            await self._error(ref, "limit", "too many subscriptions")
            return
        membership = await self._resolve_org(content, ref)
        if membership is None:
            return
        if not has_org_perm(membership, VIEW_DATA):
            await self._error(ref, "permission_denied", "Permission denied.")
            return
        found = await database_sync_to_async(selectors.collection_for)(
            membership=membership, collection=collection, project=project
        )
        if found is None:
            await self._error(ref, "not_found", "Not found.")
            return
        await self._add_subscription(
            str(membership.org_id), str(found.pk), str(found.project_id), conditions, ref,
            since=content.get("since"),
        )  # fmt: skip

    async def _register_subscription(self, org_id, collection_id, conditions, **extra) -> str:
        """Listen to a collection's changes; ``extra`` is kept on the subscription for the
        protocol that renders its events. Returns the subscription's id."""
        self.counter += 1
        sub_id = f"s{self.counter}"
        group = collection_group(org_id, collection_id)
        self.subscriptions[sub_id] = {
            **extra,
            "org_id": org_id,
            "collection_id": collection_id,
            "filter": conditions,
            "group": group,
        }
        if group not in self.group_subs:
            await self.channel_layer.group_add(group, self.channel_name)
            self.horizons[group] = None
        self.group_subs.setdefault(group, set()).add(sub_id)
        logger.info("realtime_subscribed", org_id=org_id, collection=collection_id)
        return sub_id

    async def _add_subscription(
        self, org_id, collection_id, project_id, conditions, ref, *, since=None
    ):
        """Subscribe, then replay what followed ``since`` (a cursor the client received)."""
        if since is not None and not replay.is_cursor(since):
            await self._error(ref, "invalid", "since is the cursor of a change event")
            return
        alone = collection_group(org_id, collection_id) not in self.group_subs
        sub_id = await self._register_subscription(org_id, collection_id, conditions)
        await self.send_json(
            {
                "type": "subscribed",
                "ref": ref,
                "subscription": sub_id,
                "collection": collection_id,
                "project": project_id,
            }
        )
        if since is not None:
            await self._replay(sub_id, since, ref, alone=alone)

    async def _replay(self, sub_id: str, since: str, ref, *, alone: bool):
        """Decide the logged changes after ``since`` for this subscription only. The group was
        joined first, so what is published meanwhile is either in the log read here or arrives
        live afterwards (and is skipped when the read covered it)."""
        sub = self.subscriptions[sub_id]
        try:
            logged = await sync_to_async(redis_call, thread_sensitive=False)(
                replay.read_after, sub["group"], since
            )
        except RedisUnavailable:
            logged = None
        if logged is None:
            logger.info("realtime_resync_required", collection=sub["collection_id"])
            await self.send_json(
                {
                    "type": "resync_required",
                    "ref": ref,
                    "subscription": sub_id,
                    "collection": sub["collection_id"],
                }
            )
            return
        for event in logged:
            await self._decide(event, [sub_id])
            if self._expired():
                return  # the socket is closed
        # Live events are handled only once this handler returns: from here on, those the
        # read covered are skipped for this subscription.
        covered = logged[-1]["cursor"] if logged else since
        sub["replayed_to"] = covered
        if alone:  # no other subscription of this socket waits on the group's live events
            self.horizons[sub["group"]] = covered

    async def _drop_subscription(self, sub_id: str) -> bool:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None:
            return False
        subs = self.group_subs.get(sub["group"], set())
        subs.discard(sub_id)
        if not subs:
            self.group_subs.pop(sub["group"], None)
            self.horizons.pop(sub["group"], None)
            await self.channel_layer.group_discard(sub["group"], self.channel_name)
        return True

    async def _unsubscribe(self, content, ref):
        if not await self._drop_subscription(str(content.get("subscription"))):
            await self._error(ref, "not_found", "Not found.")
            return
        await self.send_json({"type": "unsubscribed", "ref": ref})

    def _channel_name(self, content) -> str | None:
        channel = content.get("channel")
        if isinstance(channel, str) and 0 < len(channel) <= MAX_CHANNEL_NAME:
            return channel
        return None

    async def _join(self, content, ref):
        channel = self._channel_name(content)
        meta = content.get("presence") or {}
        if channel is None or not isinstance(meta, dict) or len(meta) > MAX_PAYLOAD_KEYS:
            await self._error(ref, "invalid", "channel (1-64 chars) and presence object")
            return
        membership = await self._resolve_org(content, ref)
        if membership is None:
            return
        await self._enter_channel(str(membership.org_id), channel, meta, ref)

    async def _enter_channel(self, org_id: str, channel: str, meta: dict, ref, *, track=True):
        """Join the channel's group; ``track``: show this socket in its presence."""
        group = broadcast_group(org_id, channel)
        if (org_id, channel) not in self.channels_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.channels_joined[(org_id, channel)] = group
        entry = {"user_id": self.identity.user_id, "username": self.identity.username}
        if track:
            await database_sync_to_async(presence.track)(
                org_id, channel, self.channel_name, meta=meta, **entry
            )
        state = await database_sync_to_async(presence.state)(org_id, channel)
        await self.send_json(
            {
                "type": "presence_state",
                "ref": ref,
                "channel": channel,
                "presences": [_public(socket, e) for socket, e in state.items()],
            }
        )
        if not track:
            return
        await self.channel_layer.group_send(
            group,
            {
                "type": "presence.diff",
                "org_id": org_id,
                "channel": channel,
                "joins": [_public(self.channel_name, {**entry, "meta": meta})],
                "leaves": [],
            },
        )

    async def _leave(self, org_id: str, channel: str, group: str):
        self.channels_joined.pop((org_id, channel), None)
        await database_sync_to_async(presence.untrack)(org_id, channel, self.channel_name)
        await self.channel_layer.group_discard(group, self.channel_name)
        await self.channel_layer.group_send(
            group,
            {
                "type": "presence.diff",
                "org_id": org_id,
                "channel": channel,
                "joins": [],
                "leaves": [{"presence_ref": self.channel_name, "user_id": self.identity.user_id}],
            },
        )

    async def _joined(self, content, ref) -> tuple[str, str] | None:
        channel = self._channel_name(content)
        org_id = (
            self.org_refs.get(content.get("org")) if isinstance(content.get("org"), str) else None
        )
        if channel is None or org_id is None or (org_id, channel) not in self.channels_joined:
            await self._error(ref, "not_joined", "join the channel first")
            return None
        return org_id, channel

    async def _client_leave(self, content, ref):
        joined = await self._joined(content, ref)
        if joined:
            await self._leave(*joined, self.channels_joined[joined])
            await self.send_json({"type": "left", "ref": ref, "channel": joined[1]})

    async def _broadcast(self, content, ref):
        joined = await self._joined(content, ref)
        if not joined:
            return
        event, payload = content.get("event"), content.get("payload")
        if not isinstance(event, str) or not 0 < len(event) <= 64:
            await self._error(ref, "invalid", "event name (1-64 chars) is required")
            return
        org_id, channel = joined
        refusal = await self._send_refusal(org_id, channel)
        if refusal is not None:
            await self._error(ref, *refusal)
            return
        await self._publish_broadcast(org_id, channel, event, payload, echo=content.get("self"))

    async def _publish_broadcast(self, org_id: str, channel: str, event: str, payload, *, echo):
        """Send to everyone in a channel this socket joined (the sender decided it may)."""
        await self.channel_layer.group_send(
            self.channels_joined[(org_id, channel)],
            {
                "type": "broadcast.message",
                "org_id": org_id,
                "channel": channel,
                "event": event,
                "payload": payload,
                "from_user": self._sender_id(),
                "from_socket": self.channel_name,
                "echo": bool(echo),
            },
        )

    async def _send_refusal(self, org_id: str, channel: str) -> tuple[str, str] | None:
        """Why this socket may not send to a channel it joined: (code, message), or None."""
        if await self._membership(org_id) is None:
            return "not_found", "Not found."
        return None

    async def _may_receive(self, org_id: str, channel: str) -> bool:
        return await self._membership(org_id) is not None

    def _sender_id(self):
        return self.identity.user_id

    async def _heartbeat(self, content, ref):
        await self._refresh_presences()
        await self.send_json({"type": "heartbeat", "ref": ref})

    async def _refresh_presences(self):
        for org_id, channel in list(self.channels_joined):
            await database_sync_to_async(_refresh_presence)(org_id, channel, self.channel_name)

    # --- channel-layer events --------------------------------------------------------------
    async def record_change(self, event):
        """A live change: first what the log says came before it and this socket has not
        seen, then the change itself."""
        group = collection_group(event["org_id"], event["collection_id"])
        if not self.group_subs.get(group) or self.identity is None:
            return
        cursor, horizon = event.get("cursor"), self.horizons.get(group)
        if cursor is not None:
            if horizon is not None:
                if replay.order(cursor) <= replay.order(horizon):
                    return  # replayed or filled in already
                prev = event.get("prev")
                if prev is not None and replay.order(prev) > replay.order(horizon):
                    for missed in await self._missed(group, horizon, cursor):
                        await self._decide(missed)
            self.horizons[group] = cursor
        await self._decide(event)

    async def _missed(self, group: str, after: str, before: str) -> list[dict]:
        try:
            return await sync_to_async(redis_call, thread_sensitive=False)(
                replay.between, group, after, before
            )
        except RedisUnavailable:
            logger.warning("realtime_gap_unfilled", group=group)
            return []

    async def _decide(self, event, sub_ids=None):
        """Send ``event`` (live, replayed or filled in) to those of the socket's subscriptions
        (``sub_ids``, default: all of its collection) that may see it: the one decision."""
        if sub_ids is None:
            group = collection_group(event["org_id"], event["collection_id"])
            sub_ids = self.group_subs.get(group)
        if not sub_ids or self.identity is None:
            return
        if self._expired():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        cursor = event.get("cursor")
        matched = []
        for sub_id in sorted(sub_ids):
            sub = self.subscriptions.get(sub_id)
            if not sub or sub["org_id"] != event["org_id"]:
                continue
            replayed_to = sub.get("replayed_to")
            if replayed_to and cursor and replay.order(cursor) <= replay.order(replayed_to):
                continue  # its replay covered this one
            if sub["collection_id"] != event["collection_id"]:
                continue
            if not await self._may_read(event):
                return
            if not await self._passes(sub, event):
                continue
            matched.append(sub_id)
        if matched:
            await self._send_changes(matched, event)

    async def _send_changes(self, sub_ids: list[str], event):
        """Deliver a change this socket may read to the subscriptions it passed."""
        for sub_id in sub_ids:
            await self.send_json(
                {
                    "type": "change",
                    "subscription": sub_id,
                    "op": event["op"],
                    "collection": event["collection_id"],
                    "project": event.get("project_id"),
                    "id": event.get("id"),
                    "record": event.get("record"),
                    "committed_at": event.get("committed_at"),
                    "cursor": event.get("cursor"),
                }
            )

    async def _passes(self, sub, event) -> bool:
        conditions = sub["filter"]
        verdict = filters.decide(conditions, event)
        if verdict is None:  # a search only PostgreSQL can tokenize
            try:
                verdict = await database_sync_to_async(filters.accepts)(conditions, event)
            except DatabaseError:
                logger.warning("realtime_filter_unavailable", collection=event["collection_id"])
                return False
        return verdict

    async def _may_read(self, event) -> bool:
        """Would the data API show this row to this socket's user, right now?"""
        membership = await self._membership(event["org_id"])
        if not has_org_perm(membership, VIEW_DATA):
            return False
        return record_visible(
            role=membership.role,
            user_id=self.identity.user_id,
            owner_id=event["owner_id"],
            owner_only=event["owner_only"],
        )

    async def broadcast_message(self, event):
        key = (event["org_id"], event["channel"])
        if key not in self.channels_joined or self.identity is None:
            return
        if event["from_socket"] == self.channel_name and not event.get("echo"):
            return
        if not await self._may_receive(event["org_id"], event["channel"]):
            return
        await self._deliver_broadcast(event)

    async def _deliver_broadcast(self, event):
        if isinstance(event["payload"], bytes):
            return  # a binary broadcast (Supabase's serializer 2.0.0): JSON sockets skip it
        await self.send_json(
            {
                "type": "broadcast",
                "channel": event["channel"],
                "event": event["event"],
                "payload": event["payload"],
                "from_user": event["from_user"],
            }
        )

    async def presence_diff(self, event):
        if (event["org_id"], event["channel"]) not in self.channels_joined:
            return
        await self._deliver_presence_diff(event)

    async def _deliver_presence_diff(self, event):
        await self.send_json(
            {
                "type": "presence_diff",
                "channel": event["channel"],
                "joins": event["joins"],
                "leaves": event["leaves"],
            }
        )

    async def auth_revoked(self, event):
        await self.close(code=CLOSE_REVOKED)

    async def membership_changed(self, event):
        """Re-read the membership now; drop what it no longer allows (the socket stays)."""
        org_id = event["org_id"]
        if self.identity is None or org_id not in self.memberships:
            return  # this socket has not used that org
        membership = await self._membership(org_id, fresh=True)
        if not has_org_perm(membership, VIEW_DATA):
            reason = NOT_A_MEMBER if membership is None else "permission_denied"
            for sub_id, sub in sorted(self.subscriptions.items()):
                if sub["org_id"] == org_id:
                    await self._drop_subscription(sub_id)
                    await self.send_json(
                        {"type": "unsubscribed", "subscription": sub_id, "reason": reason}
                    )
        if membership is None:
            for (joined, channel), group in list(self.channels_joined.items()):
                if joined == org_id:
                    await self._leave(joined, channel, group)
                    await self.send_json(
                        {"type": "left", "channel": channel, "reason": NOT_A_MEMBER}
                    )
        logger.info("realtime_membership_reread", org_id=org_id, member=membership is not None)


def _ref(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_REF


def _public(socket: str, entry: dict) -> dict:
    return {
        "presence_ref": socket,
        "user_id": entry["user_id"],
        "username": entry["username"],
        "meta": entry.get("meta", {}),
    }


def _refresh_presence(org_id: str, channel: str, socket: str) -> None:
    entry = presence.state(org_id, channel).get(socket)
    if entry:
        presence.track(
            org_id, channel, socket, user_id=entry["user_id"], username=entry["username"],
            meta=entry["meta"], key=entry.get("key"), ref=entry.get("ref"),
        )  # fmt: skip
