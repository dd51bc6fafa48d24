"""Redis connection settings, read once from the environment and turned into each library's shape.

One ``RedisConfig`` describes how to reach Redis: a plain URL, ``rediss://`` with CA / client
certificate / key, AUTH (password, optional ACL user), or Sentinel (sentinel addresses, service
name, sentinel password) with reads optionally from replicas. From it come:

* ``django_cache_settings``  -> ``CACHES["default"]`` (django-redis; sessions, rate limits,
  hotkeys and metrics take their client from it through ``cache.client.get_redis``),
* ``channel_layer_settings`` -> ``CHANNEL_LAYERS["default"]`` (channels-redis; its blocking
  reads get the socket timeout on top of their wait),
* ``celery_settings``        -> ``CELERY_BROKER_URL`` / transport options / ``broker_use_ssl``.

Pure functions of the environment mapping, so they are tested without Django settings.

Environment::

    REDIS_URL                  redis://host:port/db or rediss://host:port/db
    REDIS_PASSWORD             AUTH password (overrides one in the URL)
    REDIS_USERNAME             ACL user (optional)
    REDIS_CA_CERT              CA bundle that signed the server's certificate (TLS)
    REDIS_CLIENT_CERT / _KEY   client certificate and key, when the server asks for one
    REDIS_SENTINELS            "host:port,host:port"; when set, Sentinel decides the primary
    REDIS_SENTINEL_SERVICE     the monitored service name (default "platform")
    REDIS_SENTINEL_PASSWORD    the sentinels' own password (default: none)
    REDIS_READ_FROM_REPLICAS   cache reads may go to replicas (Sentinel only)
    REDIS_POOL_SIZE            connections per process for each pool: the cache / session
                               client, the channel layer, Celery's broker
    REDIS_CONNECT_TIMEOUT / REDIS_SOCKET_TIMEOUT   seconds
"""

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class RedisConfig:
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    tls: bool = False
    username: str = ""
    password: str = ""
    ca_cert: str = ""
    client_cert: str = ""
    client_key: str = ""
    sentinels: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    sentinel_service: str = "platform"
    sentinel_password: str = ""
    read_from_replicas: bool = False
    pool_size: int = 50
    connect_timeout: float = 0.5
    socket_timeout: float = 0.5

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    # --- pieces shared by every library ---------------------------------------------------
    def tls_kwargs(self) -> dict:
        """redis-py keyword arguments for TLS (verification always on when TLS is used)."""
        if not self.tls:
            return {}
        kwargs = {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if self.ca_cert:
            kwargs["ssl_ca_certs"] = self.ca_cert
        if self.client_cert:
            kwargs["ssl_certfile"] = self.client_cert
        if self.client_key:
            kwargs["ssl_keyfile"] = self.client_key
        return kwargs

    def auth_kwargs(self) -> dict:
        kwargs = {}
        if self.username:
            kwargs["username"] = self.username
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def sentinel_kwargs(self) -> dict:
        """How to talk to the sentinels themselves: same TLS, their own password."""
        kwargs = {**self.tls_kwargs(), "socket_timeout": self.socket_timeout}
        kwargs["socket_connect_timeout"] = self.connect_timeout
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs

    def direct_url(self) -> str:
        """The URL of a directly addressed server (no credentials in it)."""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"

    def connection_kwargs(self) -> dict:
        """Everything a redis-py client needs besides the address."""
        return {
            **self.auth_kwargs(),
            **self.tls_kwargs(),
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.socket_timeout,
        }


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def parse_sentinels(value: str) -> tuple[tuple[str, int], ...]:
    result = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_SENTINELS entry {item!r} is not host:port")
        result.append((host.strip("[]"), int(port)))
    return tuple(result)


def redis_config_from_env(environ: Mapping[str, str]) -> RedisConfig:
    url = environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured("REDIS_URL must start with redis:// or rediss://")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ImproperlyConfigured("REDIS_URL path must be a database number")
    config = RedisConfig(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int(path or 0),
        tls=parts.scheme == "rediss",
        username=environ.get("REDIS_USERNAME") or (parts.username or ""),
        password=environ.get("REDIS_PASSWORD") or (parts.password or ""),
        ca_cert=environ.get("REDIS_CA_CERT", ""),
        client_cert=environ.get("REDIS_CLIENT_CERT", ""),
        client_key=environ.get("REDIS_CLIENT_KEY", ""),
        sentinels=parse_sentinels(environ.get("REDIS_SENTINELS", "")),
        sentinel_service=environ.get("REDIS_SENTINEL_SERVICE") or "platform",
        sentinel_password=environ.get("REDIS_SENTINEL_PASSWORD", ""),
        read_from_replicas=_bool(environ.get("REDIS_READ_FROM_REPLICAS")),
        pool_size=int(environ.get("REDIS_POOL_SIZE") or 50),
        connect_timeout=float(environ.get("REDIS_CONNECT_TIMEOUT") or 0.5),
        socket_timeout=float(environ.get("REDIS_SOCKET_TIMEOUT") or 0.5),
    )
    if bool(config.client_cert) != bool(config.client_key):
        raise ImproperlyConfigured("REDIS_CLIENT_CERT and REDIS_CLIENT_KEY go together")
    if (config.ca_cert or config.client_cert) and not config.tls:
        raise ImproperlyConfigured("TLS certificates are set but REDIS_URL is not rediss://")
    return config


# --- django-redis ------------------------------------------------------------------------------
def django_cache_settings(config: RedisConfig) -> dict:
    options = {
        "CLIENT_CLASS": "cache.backend.PlatformCacheClient",
        "SOCKET_CONNECT_TIMEOUT": config.connect_timeout,
        "SOCKET_TIMEOUT": config.socket_timeout,
        "CONNECTION_POOL_KWARGS": {
            "max_connections": config.pool_size,
            **config.tls_kwargs(),
            # A dead primary is noticed on the next command, not after a TCP timeout.
            "health_check_interval": 10,
        },
    }
    if config.username:
        options["USERNAME"] = config.username
    if config.password:
        options["PASSWORD"] = config.password
    if config.uses_sentinel:
        # The host part of the URL is the service name; TLS comes from ``ssl=True`` above
        # (a rediss:// URL would bypass Sentinel's managed connection class).
        location = f"redis://{config.sentinel_service}/{config.db}"
        options["CLIENT_CLASS"] = "cache.backend.PlatformSentinelCacheClient"
        options["CONNECTION_FACTORY"] = "django_redis.pool.SentinelConnectionFactory"
        options["SENTINELS"] = list(config.sentinels)
        options["SENTINEL_KWARGS"] = config.sentinel_kwargs()
        # A one-element list keeps every command on the primary; a string lets the
        # Sentinel client split reads off to a replica pool.
        location = location if config.read_from_replicas else [f"{location}?is_master=1"]
    else:
        location = config.direct_url()
        options["CONNECTION_POOL_KWARGS"].pop("ssl", None)  # implied by rediss://
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": "platform",
        "OPTIONS": options,
    }


# --- channels-redis ----------------------------------------------------------------------------
def channel_layer_settings(config: RedisConfig) -> dict:
    """The channel layer's reads wait on purpose: each receive is a blocking ``BZPOPMIN`` of
    up to ``RedisChannelLayer.brpop_timeout`` seconds. The socket timeout is for a server that
    stopped answering, so it counts from the end of that wait; left to redis-py's default
    (as long as the wait itself) it ended every quiet socket with a ``TimeoutError``.
    """
    from channels_redis.core import RedisChannelLayer

    connection = {
        **config.auth_kwargs(),
        **config.tls_kwargs(),
        "socket_connect_timeout": config.connect_timeout,
        "socket_timeout": RedisChannelLayer.brpop_timeout + config.socket_timeout,
    }
    if config.uses_sentinel:
        host = {
            "sentinels": list(config.sentinels),
            "master_name": config.sentinel_service,
            "sentinel_kwargs": config.sentinel_kwargs(),
            "db": config.db,
            **connection,
        }
    else:
        host = {"address": config.direct_url(), **connection}
        host.pop("ssl", None)  # implied by rediss://
    host["max_connections"] = config.pool_size
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [host], "capacity": 1000, "expiry": 30},
    }


# --- Celery / kombu ----------------------------------------------------------------------------
def celery_settings(config: RedisConfig) -> dict:
    """``CELERY_BROKER_URL``, ``..._TRANSPORT_OPTIONS``, ``..._USE_SSL``, ``..._POOL_LIMIT``."""
    userinfo = ""
    if config.password:
        userinfo = f"{quote(config.username, safe='')}:{quote(config.password, safe='')}@"
    transport_options: dict = {}
    if config.uses_sentinel:
        url = ";".join(f"sentinel://{userinfo}{h}:{p}/{config.db}" for h, p in config.sentinels)
        transport_options["master_name"] = config.sentinel_service
        transport_options["sentinel_kwargs"] = config.sentinel_kwargs()
    else:
        scheme = "rediss" if config.tls else "redis"
        url = urlunsplit(
            (scheme, f"{userinfo}{config.host}:{config.port}", f"/{config.db}", "", "")
        )
    use_ssl = None
    if config.tls:
        use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        if config.ca_cert:
            use_ssl["ssl_ca_certs"] = config.ca_cert
        if config.client_cert:
            use_ssl["ssl_certfile"] = config.client_cert
            use_ssl["ssl_keyfile"] = config.client_key
    return {
        "broker_url": url,
        "transport_options": transport_options,
        "use_ssl": use_ssl,
        "pool_limit": config.pool_size,
    }
