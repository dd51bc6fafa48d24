"""The one place Redis connections come from.

django-redis owns the connection pool (configured from ``REDIS_URL`` in settings); other
users (sessions, rate limits, hotkeys, metrics) take their client here so that pool sizing,
TLS, AUTH and Sentinel are configured once.
"""

import redis
from django_redis import get_redis_connection


def get_redis(alias: str = "default") -> redis.Redis:
    return get_redis_connection(alias)
