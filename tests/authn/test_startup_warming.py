"""Cache warming at server start: a real uvicorn process against an empty Redis of its own."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from authn.services import sessions
from tests.authn.helpers import OwnRedis, free_port, wait_for_port
from tests.factories import UserFactory


@pytest.mark.slow
def test_a_starting_server_process_warms_the_cache(committed, tmp_path):
    """A real uvicorn process started against an empty Redis fills it with the live sessions."""
    user = UserFactory()
    pairs = [sessions.session_start(user=user) for _ in range(5)]
    sessions.session_logout(user=user, session_id=pairs[0].session_id)
    server = OwnRedis(tmp_path)
    server.start()
    port = free_port()
    env = {**os.environ, "REDIS_URL": server.url, "AUTHN_WARM_SESSIONS_ON_STARTUP": "true"}
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "platform_site.asgi:application", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        keys = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(keys) < 4:
            keys = {k.decode() for k in server.client().keys("authn:session:*")}
            time.sleep(0.2)
        expected = {f"authn:session:{p.session_id}" for p in pairs[1:]}
        assert keys == expected  # the four live ones; not the revoked one
    finally:
        app.terminate()
        app.wait(timeout=15)
        server.kill()
