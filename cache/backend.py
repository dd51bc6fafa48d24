"""django-redis client classes the platform's cache uses: every read and write is timed into
the client-side latency histogram, reads count hits and misses and are sampled into the hotkey
tracker. Nothing here adds a round trip: timing and counting are in process memory, and the
hotkey sample is one pipelined call for a sampled fraction of reads."""

import time

from django_redis.client import DefaultClient, SentinelClient

from cache import hotkeys, metrics

_MISSING = object()


class InstrumentedMixin:
    def get(self, key, default=None, version=None, client=None):
        started = time.perf_counter()
        try:
            value = super().get(key, default=_MISSING, version=version, client=client)
        finally:
            metrics.observe_latency(time.perf_counter() - started)
        hit = value is not _MISSING
        metrics.count_read(hit=hit)
        hotkeys.record_access(key)
        return value if hit else default

    def set(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().set(*args, **kwargs)
        finally:
            metrics.observe_latency(time.perf_counter() - started)

    def delete(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().delete(*args, **kwargs)
        finally:
            metrics.observe_latency(time.perf_counter() - started)


class PlatformCacheClient(InstrumentedMixin, DefaultClient):
    pass


class PlatformSentinelCacheClient(InstrumentedMixin, SentinelClient):
    pass
