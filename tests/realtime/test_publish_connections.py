"""Publishing from synchronous code (services, signal handlers, tasks) reuses one Redis
connection pool per process (``realtime.layer``): a burst of writes does not open a connection
per event, and the events still arrive."""

import asyncio
import threading
import uuid

from channels.layers import get_channel_layer

from cache.client import get_redis
from realtime import events, layer
from realtime.groups import user_group


def _connections_received() -> int:
    return int(get_redis().info("stats")["total_connections_received"])


def test_a_burst_of_sync_publishes_opens_at_most_one_connection():
    org_id = uuid.uuid4()
    assert events.membership_changed(1, org_id)  # the process's loop and its connection
    before = _connections_received()
    for user_id in range(40):
        assert events.membership_changed(user_id, org_id)
    # Per-call event loops opened one connection per publish (40 here).
    assert _connections_received() - before <= 1


def test_publishes_from_several_threads_share_the_process_loop():
    loops = []

    def publish():
        loops.append(layer.process_loop())
        assert events.disconnect_session(uuid.uuid4().hex)

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loops) == 4 and len(set(map(id, loops))) == 1


def test_published_events_arrive():
    channel_layer = get_channel_layer()
    user_id, org_id = 424242, uuid.uuid4()

    async def body():
        channel = await channel_layer.new_channel()
        await channel_layer.group_add(user_group(user_id), channel)
        try:
            sent = await asyncio.to_thread(events.membership_changed, user_id, org_id)
            assert sent
            return await asyncio.wait_for(channel_layer.receive(channel), timeout=10)
        finally:
            await channel_layer.group_discard(user_group(user_id), channel)

    message = asyncio.run(body())
    assert message == {"type": "membership.changed", "org_id": str(org_id)}
