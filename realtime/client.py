"""The realtime websocket of client apps (``/client/v1/realtime/``), under the access rules.

The developer socket's protocol and machinery (``realtime.consumers.RealtimeConsumer``: groups,
presence, filters, heartbeats, expiry and revocation), with the caller identified as the client
data API identifies it (``endusers.identity.identify``) and every decision taken with the rules
the data API applies:

* Connect to ``/client/v1/realtime/`` (or ``/p/<project ref>/client/v1/realtime/``) with
  ``?apikey=<project key>`` and, for a signed-in end user,
  ``&access_token=<JWT>`` (browsers cannot set headers on a websocket), or the same as the
  ``apikey`` / ``Authorization: Bearer`` headers. A missing or invalid key or token, a secret
  key from a browser, or a dead session closes the handshake with 4401. No auth message.
    <- {"type": "ready", "role": "anon" | "authenticated" | "service_role",
        "end_user_id": "<uuid>" | null, "project": "<ref>", "instance": "app2"}
* ``{"type": "subscribe", "collection": "<name or id>", "filter": [...], "since": "<cursor>"}``:
  a record collection of the key's project (``since`` optional: resume after the ``cursor``
  of the last change received, as on the developer socket; replayed changes are decided by
  the same rules as live ones, and ``resync_required`` asks for a re-list). Refused
  (``permission_denied``) when the caller's "select" rule opens nothing to it. Each change
  event is then decided for this socket with the rule the data API uses
  (``access.selectors.rule_for`` + ``access.policies.rule_allows`` with the row's end user and
  data): owner, app role and condition; the secret key gets every row of its project. A rule
  changed by a developer applies within ``REALTIME_MEMBERSHIP_TTL`` seconds (rules are
  re-read at most that often).
* Channels (``join`` / ``broadcast`` / ``leave`` with ``channel``, no ``org``): a public
  channel is open to any holder of the project's key; a private one (any access rule of
  resource type "channel" names it) needs the caller's "select" rule to join and receive, and
  its "insert" rule to send broadcasts and to be tracked in presence (a join without it
  listens, untracked). Channel names are the project's own: another project's channel of the
  same name is another channel.

Close codes as the developer socket: 4401 not authenticated / token expired, 4001 session
revoked (``authn.signals.sessions_revoked``).
"""

import time
from dataclasses import dataclass
from urllib.parse import parse_qs

import structlog
from channels.db import database_sync_to_async
from django.conf import settings

from access.constants import SERVICE_ROLE, RuleKind
from access.policies import Caller, rule_allows
from endusers.identity import ClientAuthFailed, identify
from realtime import filters, selectors
from realtime.consumers import (
    CLOSE_UNAUTHENTICATED,
    MAX_PAYLOAD_KEYS,
    MAX_SUBSCRIPTIONS,
    SUBPROTOCOL,
    RealtimeConsumer,
    _ref,
)
from realtime.groups import session_group

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ClientSocketIdentity:
    """What the inherited machinery reads of a socket's caller (presence, expiry)."""

    user_id: str | None  # the end user's id; None for the key alone
    username: str  # the client role, shown in presence
    session_id: str | None
    expires_at: float


def handshake_meta(scope) -> dict:
    """The handshake as ``request.META`` would hold it, the query's ``apikey`` and
    ``access_token`` standing in for the headers a browser cannot send."""
    meta = {}
    for name, value in scope.get("headers", []):
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        meta[key] = value.decode("latin-1")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=10)
    if "HTTP_APIKEY" not in meta and query.get("apikey"):
        meta["HTTP_APIKEY"] = query["apikey"][0]
    if "HTTP_AUTHORIZATION" not in meta and query.get("access_token"):
        meta["HTTP_AUTHORIZATION"] = f"Bearer {query['access_token'][0]}"
    return meta


def _opens(rule, client) -> bool:
    """Could ``rule`` allow this caller anything (before looking at a row)?"""
    if rule is None or rule.kind == RuleKind.NOBODY:
        return False
    return rule.kind != RuleKind.ROLE or rule.app_role in client.app_roles


class ClientRealtimeConsumer(RealtimeConsumer):
    async def connect(self):
        self._init_state()
        self.client = None
        self.rules: dict[tuple, tuple[object, float]] = {}
        try:
            ref = self.scope.get("url_route", {}).get("kwargs", {}).get("ref")
            self.client = await database_sync_to_async(identify)(
                handshake_meta(self.scope), ref=ref
            )
        except ClientAuthFailed as exc:
            logger.info("realtime_client_refused", code=exc.code)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self._adopt(self.client)
        await self._accepted()

    async def _accepted(self):
        """Accept the handshake of an identified caller and greet it."""
        offered = self.scope.get("subprotocols") or []
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        await self.send_json(
            {
                "type": "ready",
                "role": self.client.role,
                "end_user_id": self.identity.user_id,
                "project": self.client.project.ref,
                "instance": settings.PLATFORM_INSTANCE,
            }
        )

    async def _adopt(self, client):
        """Make ``client`` (an ``identify`` result) the socket's caller: every later decision
        is taken for it. A new token of the same socket comes through here too (its rules are
        re-read, its session is the one whose revocation closes the socket)."""
        previous = self.identity.session_id if self.identity else None
        self.client = client
        self.rules = {}
        self.scope_key = f"p{client.project_id.hex}"
        self.caller = Caller(
            project_id=client.project_id,
            client_role=client.role,
            end_user_id=client.end_user_id,
            app_roles=tuple(client.app_roles),
        )
        expires_at = float(client.claims.get("exp", 0)) if client.end_user_id else float("inf")
        self.identity = ClientSocketIdentity(
            user_id=str(client.end_user_id) if client.end_user_id else None,
            username=client.role,
            session_id=str(client.session_id) if client.session_id else None,
            expires_at=expires_at,
        )
        if previous and previous != self.identity.session_id:
            await self.channel_layer.group_discard(session_group(previous), self.channel_name)
        if client.session_id and previous != self.identity.session_id:
            await self.channel_layer.group_add(session_group(client.session_id), self.channel_name)
        structlog.contextvars.bind_contextvars(
            project_id=str(client.project_id), client_role=client.role
        )

    async def disconnect(self, code):
        for group in list(self.group_subs):
            await self.channel_layer.group_discard(group, self.channel_name)
        for (scope_key, channel), group in list(self.channels_joined.items()):
            await self._leave(scope_key, channel, group)
        if self.identity and self.identity.session_id:
            await self.channel_layer.group_discard(
                session_group(self.identity.session_id), self.channel_name
            )

    def _is_service(self) -> bool:
        return self.client.role == SERVICE_ROLE

    async def _rule(self, operation: str, *, collection_id=None, channel=None, fresh=False):
        """The caller's rule, re-read at most every ``REALTIME_MEMBERSHIP_TTL`` seconds."""
        key = (operation, collection_id, channel)
        ttl = getattr(settings, "REALTIME_MEMBERSHIP_TTL", 15)
        cached = self.rules.get(key)
        if not fresh and cached and time.monotonic() - cached[1] < ttl:
            return cached[0]
        if channel is not None:
            private, mine = await database_sync_to_async(selectors.channel_rules)(
                client=self.client, channel=channel
            )
            self.rules[("private", None, channel)] = (private, time.monotonic())
            for op in ("select", "insert"):
                self.rules[(op, None, channel)] = (mine.get(op), time.monotonic())
            return mine.get(operation)
        rule = await database_sync_to_async(selectors.client_rule)(
            client=self.client, operation=operation, collection_id=collection_id
        )
        self.rules[key] = (rule, time.monotonic())
        return rule

    # --- record changes ------------------------------------------------------------------
    async def _subscribe(self, content, ref):
        collection = content.get("collection")
        if not _ref(collection):
            await self._error(ref, "invalid", "collection (a name or an id) is required")
            return
        try:
            conditions = filters.parse_filter(content.get("filter"))
        except filters.FilterError as exc:
            await self._error(ref, "invalid", str(exc))
            return
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            await self._error(ref, "limit", "too many subscriptions")
            return
        found = await database_sync_to_async(selectors.client_collection_for)(
            client=self.client, collection=collection
        )
        if found is None:
            await self._error(ref, "not_found", "Not found.")
            return
        if not self._is_service():
            rule = await self._rule("select", collection_id=str(found.pk), fresh=True)
            if not _opens(rule, self.client):
                await self._error(ref, "permission_denied", "The access rules allow no reads.")
                return
        await self._add_subscription(
            str(self.client.org_id), str(found.pk), str(found.project_id), conditions, ref,
            since=content.get("since"),
        )  # fmt: skip

    async def _may_read(self, event) -> bool:
        """Would the client data API show this row to this caller, right now?"""
        if event.get("project_id") != str(self.client.project_id):
            return False
        if self._is_service():
            return True
        rule = await self._rule("select", collection_id=event["collection_id"])
        return rule_allows(
            rule,
            caller=self.caller,
            owner_id=event.get("end_user_id"),
            data=filters.subject(event),
        )

    # --- channels ------------------------------------------------------------------------
    async def _channel_may(self, channel: str, operation: str, *, fresh=False) -> bool:
        if self._is_service():
            return True
        rule = await self._rule(operation, channel=channel, fresh=fresh)
        private = self.rules[("private", None, channel)][0]
        return not private or _opens(rule, self.client)

    async def _join(self, content, ref):
        channel = self._channel_name(content)
        meta = content.get("presence") or {}
        if channel is None or not isinstance(meta, dict) or len(meta) > MAX_PAYLOAD_KEYS:
            await self._error(ref, "invalid", "channel (1-64 chars) and presence object")
            return
        if not await self._channel_may(channel, "select", fresh=True):
            await self._error(ref, "permission_denied", "The rules keep this channel closed.")
            return
        track = await self._channel_may(channel, "insert")
        await self._enter_channel(self.scope_key, channel, meta, ref, track=track)

    async def _joined(self, content, ref):
        channel = self._channel_name(content)
        if channel is None or (self.scope_key, channel) not in self.channels_joined:
            await self._error(ref, "not_joined", "join the channel first")
            return None
        return self.scope_key, channel

    async def _send_refusal(self, scope_key: str, channel: str):
        if not await self._channel_may(channel, "insert"):
            return "permission_denied", "The access rules do not let you send on this channel."
        return None

    async def _may_receive(self, scope_key: str, channel: str) -> bool:
        return await self._channel_may(channel, "select")

    def _sender_id(self):
        return self.identity.user_id

    async def membership_changed(self, event):
        return  # client sockets hold no membership
