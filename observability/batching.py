"""One background flush thread per process, for what a request leaves in a process buffer
(the latency histogram's samples, the client-request log) instead of a round trip.

The thread starts at the first use in each process (gunicorn forks after import: a thread of
the parent does not survive into a worker) and calls ``flush`` every ``interval()`` seconds,
or sooner when ``wake()`` is called. ``flush`` must never raise.
"""

import os
import threading
from collections.abc import Callable


class Flusher:
    def __init__(self, name: str, flush: Callable[[], object], interval: Callable[[], float]):
        self.name = name
        self._flush = flush
        self._interval = interval
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # In a forked child the parent's lock may have been held and its thread is gone.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def ensure_running(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
        threading.Thread(target=self._run, name=self.name, daemon=True).start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval())
            self._wake.clear()
            self._flush()
