"""``make run`` keeps its Celery worker and beat running: a child that exits is reaped and
started again (``scripts/devstack.py`` ``Supervised``), with a back-off while it keeps dying."""

import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import devstack  # noqa: E402


def _supervise_until(child, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check()
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_child_that_exits_is_reaped_and_started_again(capsys):
    child = devstack.Supervised(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], dict(os.environ)
    )
    try:
        first = child.process
        os.killpg(first.pid, signal.SIGKILL)  # what an unrecoverable error amounts to
        assert _supervise_until(child, lambda: child.process is not first)
        assert first.returncode == -signal.SIGKILL  # reaped: no defunct process left
        assert child.process.poll() is None and child.restarts == 1

        # Dying young again: the next start waits longer (2 s, then 4 s, ...).
        second = child.process
        os.killpg(second.pid, signal.SIGKILL)
        assert _supervise_until(child, lambda: child.process is not second)
        assert child.restarts == 2
        said = capsys.readouterr()
        text = said.out + said.err
        assert "sleeper exited with -9; starting it again in 1s" in text
        assert "sleeper exited with -9; starting it again in 2s" in text
    finally:
        child.stop()
    assert child.process.poll() is not None


def test_the_readme_runs_worker_and_beat_as_separate_processes():
    """What ``make run`` supervises is what the README's Production block tells operators to
    run: a worker and a beat of their own, never ``worker --beat`` (one process that takes the
    schedule down with the worker)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Production", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    celery = [line.split("#")[0].split() for line in block.splitlines() if "celery" in line]
    assert [words[:4] for words in celery] == [
        ["celery", "-A", "platform_site", "worker"],
        ["celery", "-A", "platform_site", "beat"],
    ]
    assert not any("--beat" in words or "-B" in words for words in celery)
