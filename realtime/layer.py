"""Channel-layer sends from synchronous code (services, signal handlers, Celery tasks) through
one event loop per process, kept running on a daemon thread.

``async_to_sync(layer.group_send)`` from a thread without a loop makes a fresh event loop per
call, and channels_redis keeps its connection pools per loop: every publish opened (and
dropped) a Redis connection. Here every sync send in the process runs on the same loop, so it
reuses that loop's pool. A process forked after first use (a Celery or gunicorn worker) starts
its own loop on its first send.
"""

import asyncio
import os
import threading

from channels.layers import get_channel_layer

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _reset_after_fork() -> None:
    global _lock, _loop, _loop_pid
    _lock, _loop, _loop_pid = threading.Lock(), None, None  # the loop's thread stayed behind


os.register_at_fork(after_in_child=_reset_after_fork)


def process_loop() -> asyncio.AbstractEventLoop:
    """This process's sending loop, started on first use."""
    global _loop, _loop_pid
    loop = _loop
    if loop is not None and _loop_pid == os.getpid():
        return loop
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def group_send(group: str, message: dict) -> None:
    """``get_channel_layer().group_send`` from synchronous code; raises what it raises (the
    channel layer's own socket timeouts bound the wait). Not for code on an event loop."""
    layer = get_channel_layer()
    asyncio.run_coroutine_threadsafe(layer.group_send(group, message), process_loop()).result()


def group_send_many(group: str, messages: list[dict]) -> None:
    """``group_send`` of each message in order, in one trip to the loop (a bulk write)."""
    layer = get_channel_layer()

    async def send_all():
        for message in messages:
            await layer.group_send(group, message)

    asyncio.run_coroutine_threadsafe(send_all(), process_loop()).result()
