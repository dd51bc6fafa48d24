"""The environment -> Redis settings parser, and the shapes it hands each library."""

import ssl

import pytest
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import create_pool
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cache.config import (
    celery_settings,
    channel_layer_settings,
    django_cache_settings,
    redis_config_from_env,
)

SENTINEL_ENV = {
    "REDIS_URL": "rediss://ignored:6379/2",
    "REDIS_PASSWORD": "pw",
    "REDIS_USERNAME": "app",
    "REDIS_CA_CERT": "/tls/ca.crt",
    "REDIS_CLIENT_CERT": "/tls/c.crt",
    "REDIS_CLIENT_KEY": "/tls/c.key",
    "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26380",
    "REDIS_SENTINEL_SERVICE": "main",
    "REDIS_SENTINEL_PASSWORD": "spw",
}


def test_plain_url_defaults():
    config = redis_config_from_env({"REDIS_URL": "redis://cache.internal:6380/3"})
    assert (config.host, config.port, config.db, config.tls) == ("cache.internal", 6380, 3, False)
    cache = django_cache_settings(config)
    assert cache["LOCATION"] == "redis://cache.internal:6380/3"
    assert cache["OPTIONS"]["CONNECTION_POOL_KWARGS"]["max_connections"] == 50
    assert "ssl" not in cache["OPTIONS"]["CONNECTION_POOL_KWARGS"]
    assert channel_layer_settings(config)["CONFIG"]["hosts"] == [
        {
            "address": "redis://cache.internal:6380/3",
            "max_connections": 50,
            "socket_connect_timeout": 0.5,
            # channels-redis blocks for brpop_timeout on purpose; the timeout comes on top.
            "socket_timeout": RedisChannelLayer.brpop_timeout + 0.5,
        }
    ]
    assert celery_settings(config)["broker_url"] == "redis://cache.internal:6380/3"


def test_password_in_url_or_env_and_pool_size():
    config = redis_config_from_env({"REDIS_URL": "redis://u:secret@h:1/0", "REDIS_POOL_SIZE": "7"})
    assert (config.username, config.password, config.pool_size) == ("u", "secret", 7)
    cache = django_cache_settings(config)
    assert cache["OPTIONS"]["PASSWORD"] == "secret" and cache["OPTIONS"]["USERNAME"] == "u"
    assert "secret" not in cache["LOCATION"]  # credentials travel as options, not in the URL
    assert celery_settings(config)["broker_url"] == "redis://u:secret@h:1/0"


def test_one_pool_size_sizes_every_pool():
    config = redis_config_from_env({"REDIS_URL": "redis://h:1/0", "REDIS_POOL_SIZE": "7"})
    assert (
        django_cache_settings(config)["OPTIONS"]["CONNECTION_POOL_KWARGS"]["max_connections"] == 7
    )
    assert celery_settings(config)["pool_limit"] == 7
    # The pool channels-redis itself builds from our host entry (no connection is opened).
    (host,) = channel_layer_settings(config)["CONFIG"]["hosts"]
    assert create_pool(host).max_connections == 7
    sentinel = redis_config_from_env(
        {"REDIS_URL": "redis://h:1/0", "REDIS_SENTINELS": "s:26379", "REDIS_POOL_SIZE": "9"}
    )
    (host,) = channel_layer_settings(sentinel)["CONFIG"]["hosts"]
    assert create_pool(host).max_connections == 9


def test_channel_layer_reads_may_wait_longer_than_the_socket_timeout():
    """Direct and through Sentinel: the pool channels-redis builds lets a blocking receive
    (``brpop_timeout``) finish before the socket timeout fires."""
    env = {"REDIS_URL": "redis://h:1/0", "REDIS_SOCKET_TIMEOUT": "0.2"}
    for config in (
        redis_config_from_env(env),
        redis_config_from_env({**env, "REDIS_SENTINELS": "s:26379"}),
    ):
        (host,) = channel_layer_settings(config)["CONFIG"]["hosts"]
        kwargs = create_pool(host).connection_kwargs
        assert kwargs["socket_timeout"] == RedisChannelLayer.brpop_timeout + 0.2
        assert kwargs["socket_connect_timeout"] == config.connect_timeout


def test_tls_verification_is_always_required():
    config = redis_config_from_env(
        {
            "REDIS_URL": "rediss://h:6379/0",
            "REDIS_CA_CERT": "/ca.crt",
            "REDIS_CLIENT_CERT": "/c.crt",
            "REDIS_CLIENT_KEY": "/c.key",
        }
    )
    pool = django_cache_settings(config)["OPTIONS"]["CONNECTION_POOL_KWARGS"]
    assert pool["ssl_cert_reqs"] == "required" and pool["ssl_check_hostname"] is True
    assert "ssl" not in pool  # rediss:// selects the TLS connection class
    assert pool["ssl_ca_certs"] == "/ca.crt" and pool["ssl_keyfile"] == "/c.key"
    host = channel_layer_settings(config)["CONFIG"]["hosts"][0]
    assert host["address"].startswith("rediss://") and host["ssl_cert_reqs"] == "required"
    celery = celery_settings(config)
    assert celery["broker_url"].startswith("rediss://")
    assert celery["use_ssl"]["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def test_sentinel_shapes():
    config = redis_config_from_env(SENTINEL_ENV)
    assert config.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    cache = django_cache_settings(config)
    options = cache["OPTIONS"]
    assert cache["LOCATION"] == ["redis://main/2?is_master=1"]  # primary only by default
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"] == [("10.0.0.1", 26379), ("10.0.0.2", 26380)]
    assert options["SENTINEL_KWARGS"]["password"] == "spw"
    assert options["SENTINEL_KWARGS"]["ssl_ca_certs"] == "/tls/ca.crt"
    assert options["CONNECTION_POOL_KWARGS"]["ssl"] is True
    host = channel_layer_settings(config)["CONFIG"]["hosts"][0]
    assert host["master_name"] == "main" and host["password"] == "pw" and host["db"] == 2
    celery = celery_settings(config)
    assert celery["broker_url"] == (
        "sentinel://app:pw@10.0.0.1:26379/2;sentinel://app:pw@10.0.0.2:26380/2"
    )
    assert celery["transport_options"]["master_name"] == "main"


def test_sentinel_reads_from_replicas_when_asked():
    config = redis_config_from_env({**SENTINEL_ENV, "REDIS_READ_FROM_REPLICAS": "true"})
    assert django_cache_settings(config)["LOCATION"] == "redis://main/2"


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_URL": "http://h/0"},
        {"REDIS_URL": "redis://h/zero"},
        {"REDIS_SENTINELS": "nohostport"},
        {"REDIS_URL": "redis://h/0", "REDIS_CA_CERT": "/ca.crt"},
        {"REDIS_URL": "rediss://h/0", "REDIS_CLIENT_CERT": "/c.crt"},
    ],
)
def test_bad_settings_are_refused(env):
    with pytest.raises(ImproperlyConfigured):
        redis_config_from_env(env)


def test_settings_derive_from_one_config():
    config = settings.REDIS
    assert settings.CACHES["default"] == django_cache_settings(config)
    assert settings.CHANNEL_LAYERS["default"] == channel_layer_settings(config)
    assert celery_settings(config)["broker_url"] == settings.CELERY_BROKER_URL
