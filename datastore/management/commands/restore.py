"""``manage.py restore DUMP``: restore a pg_dump file (and optionally a Mongo export).

Into the configured database (``--yes`` required: its objects are dropped and recreated), or
into ``--database NAME`` (``--create`` makes it first). Runs as the owner role.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from datastore import backups


class Command(BaseCommand):
    help = "Restore a backup made by manage.py backup."

    def add_arguments(self, parser) -> None:
        parser.add_argument("dump", type=Path)
        parser.add_argument("--database", help="Restore into this database instead.")
        parser.add_argument("--create", action="store_true", help="Create --database first.")
        parser.add_argument("--mongo", type=Path, help="A .mongo.jsonl.gz export to load.")
        parser.add_argument("--yes", action="store_true", help="Overwrite the live database.")

    def handle(self, *args, **options) -> None:
        dump = options["dump"]
        if not dump.exists():
            raise CommandError(f"{dump} does not exist")
        target = options["database"]
        try:
            if target:
                if options["create"]:
                    backups.create_database(target)
                backups.restore(dump, database=target)
            else:
                if not options["yes"]:
                    raise CommandError("Restoring over the live database needs --yes.")
                backups.restore(dump, database=backups.owner_params()["dbname"], clean=True)
            if options["mongo"]:
                count = backups.mongo_import(options["mongo"])
                self.stdout.write(f"{count} documents restored")
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {dump} into {target or 'the configured database'}")
