"""``scripts/cluster.py up|status|down`` as an operator runs it: ``up`` in the foreground
prints where everything is and serves, ``status`` prints the same as JSON, ``down`` stops
``up`` and with it every process it started."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from observability.middleware import INSTANCE_HEADER
from scripts import cluster as cluster_script
from scripts import devstack
from scripts.cluster import parse_demo, remove

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SCRIPT = [sys.executable, str(devstack.ROOT / "scripts" / "cluster.py")]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCRIPT, *args], capture_output=True, text=True, timeout=180)


def _alive(pid: int) -> bool:
    return cluster_script._alive(pid)  # a zombie (exited, not reaped yet) is not alive


def test_demo_output_is_read_by_what_it_is():
    output = (
        "Studio superuser: admin / s3cret   (shown once)\n"
        "Demo client app: project todo-app, ref abc\n"
        "Demo publishable key: sb_publishable_x   (shown once)\n"
    )
    assert parse_demo(output) == {
        "Studio superuser": "admin / s3cret",
        "Demo publishable key": "sb_publishable_x",
    }


def test_up_status_down(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="platform-cluster-cli-"))
    port = devstack.free_port()
    assert json.loads(_cli("status", "--dir", str(base)).stdout) == {
        "running": False,
        "dir": str(base),
    }
    with open(tmp_path / "up.log", "wb") as output:
        up = subprocess.Popen(
            [*SCRIPT, "up", "--instances", "2", "--dir", str(base), "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while not (base / "cluster.json").exists():
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "up did not finish starting"
            time.sleep(0.5)
        status = _cli("status", "--dir", str(base))
        assert status.returncode == 0, status.stderr
        running = json.loads(status.stdout)
        assert running["running"] is True and running["pid"] == up.pid
        assert running["url"] == f"http://127.0.0.1:{port}"
        assert [i["name"] for i in running["instances"]] == ["app1", "app2"]
        names = {
            httpx.get(running["url"] + "/health/live", timeout=30).headers[INSTANCE_HEADER]
            for _ in range(4)
        }
        assert names == {"app1", "app2"}
        printed = (tmp_path / "up.log").read_text()
        assert f"the platform: {running['url']}" in printed
        assert "Demo publishable key: sb_publishable_" in printed
        assert "Demo secret key" in running["demo"]
        assert oct((base / "cluster.json").stat().st_mode & 0o777) == "0o600"

        pids = [pid for i in running["instances"] for pid in i["pids"]]
        pids += [running["nginx"]["pid"], *running["background"].values()]
        down = _cli("down", "--dir", str(base))
        assert down.returncode == 0, down.stderr
        assert up.wait(timeout=60) == 0
        assert not any(_alive(pid) for pid in pids)
        assert not (base / "cluster.json").exists()
        assert json.loads(_cli("status", "--dir", str(base)).stdout)["running"] is False
    finally:
        if up.poll() is None:
            os.killpg(up.pid, 15)
            up.wait(timeout=60)
        remove(base)
