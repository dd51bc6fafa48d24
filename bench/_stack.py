"""Servers for a benchmark run: the ones in DATABASE_URL / REDIS_URL, or throwaway ones started
the way ``make test`` starts them (scripts/devstack.py)."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import devstack  # noqa: E402


def start(*, need_postgres: bool) -> devstack.Stack:
    """Start what is missing, export its environment, and set up Django (test settings)."""
    base = Path(tempfile.mkdtemp(prefix="platform-bench-"))
    base.chmod(0o755)
    stack = devstack.Stack()
    if not need_postgres:
        os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
    credentials = devstack.load_credentials(base / "credentials.json")
    os.environ.update(devstack.start_services(base, credentials, durable=False, stack=stack))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")
    os.environ["PLATFORM_VAR_DIR"] = str(base)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    if need_postgres:
        from django.core.management import call_command

        call_command("migrate", database="owner", verbosity=0, interactive=False)
    return stack
