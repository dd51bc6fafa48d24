"""TLS + AUTH and Sentinel failover against real redis-server / sentinel processes.

Each test starts its own topology (scripts/redis_ha.py) on free ports; the shared Redis of the
test run is never touched.
"""

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django_redis.cache import RedisCache
from kombu import Connection

from cache.client import build_client
from cache.config import (
    celery_settings,
    channel_layer_settings,
    django_cache_settings,
    redis_config_from_env,
)
from scripts.redis_ha import RedisHA
from tests.factories import UserFactory
from tests.servers import AppServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    ha = RedisHA(tmp_path_factory.mktemp("redis-tls"), replicas=0, sentinels=0).start()
    yield ha
    ha.stop()


def test_platform_stack_works_over_tls_with_a_password(tls_redis):
    config = redis_config_from_env(tls_redis.env())
    assert config.tls and config.password

    cache_settings = django_cache_settings(config)
    cache = RedisCache(cache_settings["LOCATION"], cache_settings)
    cache.set("tls:k", {"v": 1})
    assert cache.get("tls:k") == {"v": 1}

    layer = RedisChannelLayer(**channel_layer_settings(config)["CONFIG"])

    async def roundtrip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "hello", "n": 7})
        return await layer.receive(channel)

    assert async_to_sync(roundtrip)() == {"type": "hello", "n": 7}

    celery = celery_settings(config)
    with Connection(
        celery["broker_url"], ssl=celery["use_ssl"], transport_options=celery["transport_options"]
    ) as conn:
        queue = conn.SimpleQueue("tls-test")
        queue.put({"task": "x"})
        message = queue.get(timeout=5)
        assert message.payload == {"task": "x"}
        message.ack()
        queue.close()

    # The whole platform, configured from the environment alone, in another process.
    env = {**os.environ, **tls_redis.env(), "DJANGO_SETTINGS_MODULE": "platform_site.settings.test"}
    result = subprocess.run(
        [sys.executable, "manage.py", "redis_status", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["replication"]["role"] == "master"


def test_client_without_password_is_refused(tls_redis):
    with pytest.raises(redis.AuthenticationError):
        tls_redis.primary.client(password=None).ping()
    with pytest.raises(redis.AuthenticationError):
        tls_redis.primary.client(password="wrong").ping()


def test_client_without_tls_is_refused(tls_redis):
    plain = redis.Redis(
        host="127.0.0.1", port=tls_redis.primary.port, password=tls_redis.password,
        socket_timeout=2, socket_connect_timeout=2,
    )  # fmt: skip
    with pytest.raises(redis.ConnectionError):
        plain.ping()


def test_certificate_verification_is_on(tls_redis):
    # A server certificate from a CA the client does not trust is rejected ...
    env = {**tls_redis.env(), "REDIS_CA_CERT": str(tls_redis.certs.rogue_ca)}
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        build_client(redis_config_from_env(env)).ping()
    # ... and so is a client without a certificate (the server requires one).
    env = {
        k: v
        for k, v in tls_redis.env().items()
        if k not in ("REDIS_CLIENT_CERT", "REDIS_CLIENT_KEY")
    }
    with pytest.raises(redis.ConnectionError):
        build_client(redis_config_from_env(env)).ping()
    # With the right CA, certificate and password, it works.
    assert build_client(redis_config_from_env(tls_redis.env())).ping()


@pytest.mark.timeout(180)
def test_sentinel_failover_under_load_serves_no_5xx(tmp_path, django_db_setup, committed):
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ha = RedisHA(tmp_path / "ha", replicas=2, sentinels=3, down_after_ms=1000).start()
    server = None
    try:
        config = redis_config_from_env(ha.env())
        _check_sentinel_clients(ha)
        staff = UserFactory(is_staff=True)
        staff.save()  # keep the password the factory set
        server = AppServer(
            {
                **ha.env(),
                "REDIS_BREAKER_RESET_SECONDS": "1",
                # A steady stream of logins by one account: above the abuse limits on purpose.
                "AUTHN_RATE_LOGIN_ACCOUNT": "100000/300",
                "AUTHN_RATE_LOGIN_IP": "100000/300",
            },
            log_path=tmp_path / "app.log",
        ).start()
        results: list[tuple[float, str, int, dict | None]] = []
        stop = threading.Event()

        def traffic():
            with httpx.Client(base_url=server.url, timeout=10) as http:
                while not stop.is_set():
                    login = http.post(
                        "/api/v1/auth/login/",
                        json={"email": staff.email, "password": "correct horse battery"},
                    )
                    results.append((time.monotonic(), "login", login.status_code, None))
                    if login.status_code != 200:
                        continue
                    auth = {"Authorization": f"Bearer {login.json()['access']}"}
                    for _ in range(5):
                        orgs = http.get("/api/v1/orgs/", headers=auth)
                        results.append((time.monotonic(), "orgs", orgs.status_code, None))
                        m = http.get("/api/v1/admin/redis/metrics", headers=auth)
                        body = m.json() if m.status_code == 200 else None
                        results.append((time.monotonic(), "metrics", m.status_code, body))

        worker = threading.Thread(target=traffic, daemon=True)
        worker.start()
        time.sleep(2)
        old_port = ha.primary.port
        ha.primary.kill()
        killed_at = time.monotonic()

        probe = build_client(config)
        first_write = None
        while time.monotonic() - killed_at < 60:
            try:
                probe.set("failover:probe", "written")
                first_write = time.monotonic() - killed_at
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                time.sleep(0.05)
        assert first_write is not None, "no primary accepted a write within 60 s"
        new_port = ha.current_primary_port()
        assert new_port != old_port
        new_run_id = next(n for n in ha.replicas if n.port == new_port).client().info()["run_id"]

        # The app server finds the new primary on its own.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            recent = [r for r in results[-20:] if r[1] == "metrics" and r[3]]
            if any(
                r[3]["available"] and r[3]["server"]["info"]["run_id"] == new_run_id for r in recent
            ):
                break
            time.sleep(0.2)
        stop.set()
        worker.join(timeout=15)

        print(f"\ntime to first successful Redis write after SIGKILL of the primary: "
              f"{first_write:.2f} s ({len(results)} requests)")  # fmt: skip
        statuses = [status for _, _, status, _ in results]
        assert not [s for s in statuses if s >= 500], statuses
        assert statuses.count(200) == len(statuses), sorted(set(statuses))
        after_kill = [r for r in results if r[0] > killed_at]
        during_gap = [r for r in after_kill if r[0] < killed_at + first_write]
        assert during_gap and all(r[2] == 200 for r in during_gap)
        assert any(r[3] and not r[3]["available"] for r in after_kill)  # fallback exercised
        final = [r[3] for r in results if r[1] == "metrics" and r[3]][-1]
        assert final["available"] and final["server"]["info"]["run_id"] == new_run_id
        assert final["server"]["replication"]["role"] == "master"
    finally:
        if server:
            server.stop()
        ha.stop()


def _check_sentinel_clients(ha):
    """Through Sentinel and TLS: Celery's broker works, and replica reads reach a replica."""
    celery = celery_settings(redis_config_from_env(ha.env()))
    assert celery["broker_url"].startswith("sentinel://")
    with Connection(
        celery["broker_url"], ssl=celery["use_ssl"], transport_options=celery["transport_options"]
    ) as conn:
        queue = conn.SimpleQueue("sentinel-test")
        queue.put({"task": "y"})
        message = queue.get(timeout=5)
        assert message.payload == {"task": "y"}
        message.ack()
        queue.close()

    config = redis_config_from_env({**ha.env(), "REDIS_READ_FROM_REPLICAS": "true"})
    settings_ = django_cache_settings(config)
    cache = RedisCache(settings_["LOCATION"], settings_)
    cache.set("replicated", "yes")
    writer = cache.client.get_client(write=True)
    reader = cache.client.get_client(write=False)
    assert writer.info("replication")["role"] == "master"
    assert reader.info("replication")["role"] == "slave"
    deadline = time.monotonic() + 5
    while cache.get("replicated") != "yes" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get("replicated") == "yes"
