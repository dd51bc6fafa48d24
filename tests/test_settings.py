"""Production settings: refuse to start without secrets, pass ``check --deploy`` with them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "platform_site.settings.production",
    "SECRET_KEY": "k" * 20 + "-production-check-" + "z" * 30,
    "DATABASE_URL": "postgres://owner:pw@db.internal:5432/platform",
    "DATABASE_APP_PASSWORD": "app-password",
}


def run_manage(env_overrides: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PROD_ENV}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_production_passes_check_deploy_with_secrets():
    result = run_manage(PROD_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_without_each_secret():
    for missing in ("SECRET_KEY", "DATABASE_APP_PASSWORD", "DATABASE_URL"):
        env = {k: v for k, v in PROD_ENV.items() if k != missing}
        result = run_manage(env, "check")
        assert result.returncode != 0
        assert f"{missing} must be set in production" in result.stderr
