"""The Studio's live channel: a frame of metrics and health pushed every few seconds.

Staff only; the connection is refused for anyone else (session auth from the Studio login).
"""

import asyncio

import structlog
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from observability.consumers import ObservedConsumer
from observability.tracking import capture_consumer_exception
from studio.dashboard import live_frame

logger = structlog.get_logger(__name__)
CLOSE_FORBIDDEN = 4403
CLOSE_INTERNAL_ERROR = 1011  # the page reconnects by itself


class StudioLiveConsumer(ObservedConsumer, AsyncJsonWebsocketConsumer):
    # No channel layer: frames are pushed from here, so the page keeps reporting while Redis
    # (which carries the channel layer) is down, which is when it matters most.
    channel_layer_alias = "studio-direct-push"

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        logger.info("studio_live_connected")
        self.pusher = asyncio.create_task(self._push())

    async def _push(self):
        # A task of its own: what fails here is recorded like any consumer error, and the
        # socket is closed so the page reconnects instead of waiting on a dead pusher.
        try:
            interval = getattr(settings, "STUDIO_LIVE_INTERVAL_SECONDS", 5.0)
            while True:
                frame = await database_sync_to_async(live_frame)()
                await self.send_json({"type": "frame", **frame})
                await asyncio.sleep(interval)
        except Exception as exc:
            await sync_to_async(capture_consumer_exception)(exc, self.scope)
            logger.warning("studio_live_failed", error=type(exc).__name__)
            await self.close(code=CLOSE_INTERNAL_ERROR)

    async def disconnect(self, code):
        pusher = getattr(self, "pusher", None)
        if pusher is not None:
            pusher.cancel()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # The channel is push-only: whatever a client sends (text, JSON or not, binary) is
        # ignored rather than parsed.
        return None
