"""Run the functions supervisor with this platform's settings (its own service in production)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from functions import supervisor


class Command(BaseCommand):
    help = "Serve tenants' functions from sandboxed Deno workers on FUNCTIONS_SUPERVISOR_SOCKET."

    def handle(self, *args, **options) -> None:
        supervisor.main(
            [
                "--socket", settings.FUNCTIONS_SUPERVISOR_SOCKET,
                "--state-dir", settings.FUNCTIONS_STATE_DIR,
                "--memory-mb", str(settings.FUNCTIONS_MEMORY_MB),
                "--project-concurrency", str(settings.FUNCTIONS_PROJECT_CONCURRENCY),
                "--idle-seconds", str(settings.FUNCTIONS_IDLE_SECONDS),
                "--request-bytes", str(settings.FUNCTIONS_REQUEST_BYTES),
                "--response-bytes", str(settings.FUNCTIONS_RESPONSE_BYTES),
                "--output-bytes", str(settings.FUNCTIONS_OUTPUT_BYTES),
                "--cgroups", settings.FUNCTIONS_CGROUPS,
                "--platform-url", settings.FUNCTIONS_PLATFORM_URL,
                # Functions' allow-listed hosts may resolve to what webhooks may reach.
                "--egress-allowed-networks", ",".join(settings.OUTBOUND_ALLOWED_NETWORKS),
            ]
        )  # fmt: skip
