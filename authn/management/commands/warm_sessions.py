"""Load the most recently active sessions into the Redis session cache."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from authn.services import session_check


class Command(BaseCommand):
    help = (
        "Cache the top N sessions active in the last H hours (pipelined, never over a tombstone)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--limit", type=int, default=None, help="default AUTHN_WARM_SESSIONS_LIMIT"
        )
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args, limit=None, hours=24.0, **options) -> None:
        count = session_check.sessions_warm(limit=limit, within=timedelta(hours=hours))
        self.stdout.write(f"warmed {count} session(s)")
