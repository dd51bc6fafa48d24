"""The one place Redis connections come from.

Settings build every library's configuration from one ``cache.config.RedisConfig``
(``settings.REDIS``): django-redis (``CACHES``), channels-redis (``CHANNEL_LAYERS``) and Celery
(``CELERY_BROKER_*``). Code that needs a raw client (sessions, rate limits, hotkeys, metrics)
takes it here, so pool sizing, TLS, AUTH and Sentinel are configured once:

* ``get_redis()`` is the django-redis primary client and shares its pool;
* ``build_client(config)`` makes a standalone client from a config (scripts, tests, other
  processes' topologies), following Sentinel when the config names sentinels.
"""

import redis
from django.conf import settings
from django_redis import get_redis_connection
from redis.sentinel import Sentinel

from cache.config import RedisConfig


def get_redis(alias: str = "default") -> redis.Redis:
    return get_redis_connection(alias)


def get_config() -> RedisConfig:
    return settings.REDIS


def sentinel_manager(config: RedisConfig) -> Sentinel:
    return Sentinel(
        list(config.sentinels),
        sentinel_kwargs=config.sentinel_kwargs(),
        **config.connection_kwargs(),
    )


def build_client(config: RedisConfig, *, replica: bool = False, **overrides) -> redis.Redis:
    """A client of its own (its own pool) for ``config``: the primary, or a replica."""
    kwargs = {**config.connection_kwargs(), **overrides}
    if config.uses_sentinel:
        manager = sentinel_manager(config)
        if replica:
            return manager.slave_for(config.sentinel_service, db=config.db, **kwargs)
        return manager.master_for(config.sentinel_service, db=config.db, **kwargs)
    return redis.Redis(host=config.host, port=config.port, db=config.db, **kwargs)
