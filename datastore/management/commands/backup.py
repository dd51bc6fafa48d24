"""``manage.py backup``: dump PostgreSQL (owner role, row_security off) and MongoDB, verify the
dump by restoring it into a scratch database, record a BackupRun, apply retention."""

from django.core.management.base import BaseCommand, CommandError

from datastore import backups


class Command(BaseCommand):
    help = "Back up PostgreSQL and MongoDB, verify by restoring into a scratch database."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-mongo", action="store_true", help="PostgreSQL only.")
        parser.add_argument("--no-verify", action="store_true", help="Skip the scratch restore.")

    def handle(self, *args, **options) -> None:
        try:
            run = backups.backup_run(
                with_mongo=not options["no_mongo"], verify_restore=not options["no_verify"]
            )
        except Exception as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(
            f"backup {run.pk}: {run.path} ({run.size_bytes} bytes, "
            f"{len(run.tables)} tables, {run.mongo_documents} documents, "
            f"verified={run.verified})"
        )
