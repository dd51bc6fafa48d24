"""A subscribed socket that hears nothing for longer than every Redis timeout stays open.

channels-redis waits for the next message in a blocking ``BZPOPMIN`` of
``RedisChannelLayer.brpop_timeout`` seconds, again and again; a socket timeout shorter than
that wait ended every quiet socket with ``redis.exceptions.TimeoutError``.
"""

import asyncio
import dataclasses

from asgiref.sync import sync_to_async
from channels_redis.core import RedisChannelLayer

from cache.config import channel_layer_settings
from tests.realtime.sockets import connect, drain, run, subscribe


def test_a_quiet_socket_outlives_every_redis_timeout_and_then_receives(world, tasks, settings):
    config = dataclasses.replace(settings.REDIS, socket_timeout=0.2, connect_timeout=0.2)
    settings.CHANNEL_LAYERS = {"default": channel_layer_settings(config)}
    quiet = RedisChannelLayer.brpop_timeout + config.socket_timeout + config.connect_timeout + 1

    async def body():
        ws = await connect(world.token(world.viewer_a))
        sub = await subscribe(ws, "org-a", collection=tasks.collection_id)
        await asyncio.sleep(quiet)
        (record_id,) = await sync_to_async(tasks.create)({"title": "after a quiet spell"})
        got = await drain(ws, timeout=2)
        await ws.disconnect()
        return sub, record_id, got

    sub, record_id, got = run(body)
    assert [(m["subscription"], m["op"], m["id"]) for m in got] == [(sub, "insert", record_id)]
    assert got[0]["record"]["title"] == "after a quiet spell"
