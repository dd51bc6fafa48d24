"""The Studio's live channel: a frame of metrics and health pushed every few seconds.

Staff only; the connection is refused for anyone else (session auth from the Studio login).
"""

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from studio.dashboard import live_frame


class StudioLiveConsumer(AsyncJsonWebsocketConsumer):
    # No channel layer: frames are pushed from here, so the page keeps reporting while Redis
    # (which carries the channel layer) is down, which is when it matters most.
    channel_layer_alias = "studio-direct-push"

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4403)
            return
        await self.accept()
        self.pusher = asyncio.create_task(self._push())

    async def _push(self):
        interval = getattr(settings, "STUDIO_LIVE_INTERVAL_SECONDS", 5.0)
        while True:
            frame = await database_sync_to_async(live_frame)()
            await self.send_json({"type": "frame", **frame})
            await asyncio.sleep(interval)

    async def disconnect(self, code):
        pusher = getattr(self, "pusher", None)
        if pusher is not None:
            pusher.cancel()

    async def receive_json(self, content, **kwargs):
        # The channel is push-only; a client message is ignored rather than echoed.
        return None
