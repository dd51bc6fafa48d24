"""The suite-wide log scan fails a session whose logs leak a secret, even if its tests pass."""

import os
import subprocess
import sys

from tests.observability.conftest import ROOT

LEAKY = """
import logging

import observability.redaction as redaction


def test_passes_but_logs_a_token(monkeypatch):
    # As if masking were broken: the scan must still catch the leak.
    monkeypatch.setattr(redaction, "mask_value", lambda key, value, depth=0: value)
    logging.getLogger("leaky").warning("issued eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
    logging.getLogger("leaky").warning("login with password=hunter22")
"""
CLEAN = """
import logging


def test_logs_only_masked_values():
    logging.getLogger("clean").warning("issued eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
"""


def _run(tmp_path, source: str) -> subprocess.CompletedProcess:
    path = tmp_path / "test_inner.py"
    path.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.observability.logscan",
            "--rootdir",
            str(tmp_path),
            str(path),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_leaking_session_fails(tmp_path):
    result = _run(tmp_path, LEAKY)
    assert "1 passed" in result.stdout
    assert result.returncode == 1, result.stdout
    assert "secrets found in log output" in result.stdout
    assert "jwt eyJhbGciOiJI" in result.stdout and "password value" in result.stdout


def test_masked_session_passes(tmp_path):
    result = _run(tmp_path, CLEAN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secrets found" not in result.stdout
