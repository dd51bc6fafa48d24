"""supabase-js against a live server: the demo seeding (``bootstrap_demo``, as ``make run``)
gives the project, its keys and the ``todos`` collection; a JS file under ``js/`` runs with
``node --test`` and the pinned ``@supabase/supabase-js`` (``npm ci`` in ``make install``).

The server is one uvicorn process for the session (HTTP and websockets, as behind nginx); each
test seeds anew (``committed`` empties the database afterwards).
"""

import io
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.servers import AppServer

ROOT = Path(__file__).resolve().parents[2]
JS = Path(__file__).resolve().parent / "js"
# The two URL forms createClient accepts: the base URL (the key names the project) and
# the project's own path prefix.
URL_FORMS = ("base", "ref")


@dataclass
class Demo:
    url: str
    ref: str
    publishable: str
    secret: str

    def client_url(self, form: str) -> str:
        return self.url if form == "base" else f"{self.url}/p/{self.ref}"

    def node(self, script: str, form: str, timeout: float = 240, **env) -> str:
        """Runs ``js/<script>`` under ``node --test``; fails with its output unless all pass."""
        process = subprocess.run(
            ["node", "--test", "--test-reporter=spec", str(JS / script)],
            cwd=ROOT,
            env={
                **os.environ,
                "SUPABASE_URL": self.client_url(form),
                "SUPABASE_PUBLISHABLE_KEY": self.publishable,
                "SUPABASE_SECRET_KEY": self.secret,
                "PLATFORM_URL": self.url,
                "NODE_NO_WARNINGS": "1",
                **env,
            },
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = process.stdout + process.stderr
        assert process.returncode == 0, output[-6000:]
        assert re.search(r"\bpass [1-9]", output), output[-3000:]  # tests ran, not zero
        return output


@pytest.fixture(scope="session")
def compat_server(tmp_path_factory):
    server = AppServer(log_path=tmp_path_factory.mktemp("compat") / "server.log").start()
    yield server
    server.stop()


@pytest.fixture
def demo(committed, compat_server) -> Demo:
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    text = out.getvalue()
    return Demo(
        url=compat_server.url,
        ref=re.search(r"Demo client app: project \S+, ref (\w+)", text)[1],
        publishable=re.search(r"Demo publishable key: (\S+)", text)[1],
        secret=re.search(r"Demo secret key: (\S+)", text)[1],
    )
