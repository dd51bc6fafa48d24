"""A websocket client speaking ASGI straight to the application (channels' own test
communicator imports an ASGI server the platform does not use)."""

import asyncio
import json
from urllib.parse import unquote, urlparse

from asgiref.testing import ApplicationCommunicator


class WebsocketCommunicator(ApplicationCommunicator):
    def __init__(self, application, path: str, headers=None, subprotocols=None):
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": unquote(parsed.path),
            "query_string": parsed.query.encode(),
            "headers": headers or [],
            "subprotocols": subprotocols or [],
        }
        super().__init__(application, scope)

    async def receive_output(self, timeout=2):
        """The next message from the application; a timeout leaves the application running
        (asgiref's version cancels it), so "nothing arrived" can be asserted mid-conversation."""
        if self.future.done():
            self.future.result()
        getter = asyncio.ensure_future(self.output_queue.get())
        done, _ = await asyncio.wait(
            {getter, self.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.future in done:
            self.future.result()
            return {"type": "websocket.close", "code": 1006}
        raise TimeoutError

    async def connect(self, timeout=2):
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, response.get("subprotocol")

    async def send_json_to(self, data):
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout=2):
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code=1000, timeout=2):
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
