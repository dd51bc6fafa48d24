"""Backups of the platform's data: PostgreSQL with pg_dump, MongoDB exported through pymongo.

Why the owner role and ``row_security = off``: every tenant table has row-level security
FORCED, so any role without BYPASSRLS sees only the rows of the org in its transaction, and
with no org set, none. pg_dump sets ``row_security = off`` by default, which makes it *fail*
on a table whose policies would filter rows, rather than write a partial dump; the owner has
BYPASSRLS, so its dump is complete. ``--enable-row-security`` would do the opposite of what a
backup needs: dump only the rows the policies show (here: nothing) without an error.

Each backup is verified: the dump is taken from an exported snapshot; per-table row counts and
checksums are computed in that same snapshot; the dump is restored into a scratch database
and the same numbers computed there must be equal, with every RLS policy, forced-RLS flag and
grant to the app role present. Each run is recorded in ``BackupRun``.
"""

import glob
import gzip
import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import structlog
from bson import json_util
from django.conf import settings
from django.utils import timezone
from psycopg import sql

from datastore.models import BackupRun

logger = structlog.get_logger(__name__)


class BackupError(RuntimeError):
    pass


def pg_bin(name: str) -> str:
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found")
    return found


def owner_params(database: str | None = None) -> dict:
    db = settings.DATABASES["owner"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "user": db["USER"],
        "password": db.get("PASSWORD") or "",
        "dbname": database or db["NAME"],
    }


def _tool_env(params: dict) -> dict:
    # The password travels in the environment, never on a command line.
    return {**os.environ, "PGPASSWORD": params["password"], "PGTZ": "UTC"}


def _tool_args(params: dict) -> list[str]:
    return ["-h", params["host"], "-p", params["port"], "-U", params["user"]]


@contextmanager
def owner_connection(database: str | None = None, *, autocommit: bool = False):
    params = owner_params(database)
    connection = psycopg.connect(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        dbname=params["dbname"],
        autocommit=autocommit,
        options="-c row_security=off -c TimeZone=UTC",
    )
    try:
        yield connection
    finally:
        connection.close()


# --- what a database holds --------------------------------------------------------------------
def table_fingerprints(cursor) -> dict:
    """{table: {"rows": n, "md5": checksum}} for every table in the public schema."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    out = {}
    for (table,) in cursor.fetchall():
        cursor.execute(
            sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' "
                "ORDER BY md5(t::text))), '') FROM {} t"
            ).format(sql.Identifier("public", table))
        )
        rows, checksum = cursor.fetchone()
        out[table] = {"rows": rows, "md5": checksum}
    return out


def security_fingerprint(cursor) -> dict:
    """RLS flags, policies and the app role's grants: what a restore must bring back."""
    cursor.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relkind = 'r' AND c.relrowsecurity ORDER BY 1"
    )
    rls = [list(row) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT tablename, policyname, qual, with_check FROM pg_policies "
        "WHERE schemaname = 'public' ORDER BY 1, 2"
    )
    policies = [list(row) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND table_schema = 'public' ORDER BY 1, 2",
        [settings.DATABASE_APP_USER],
    )
    grants = [list(row) for row in cursor.fetchall()]
    return {"rls": rls, "policies": policies, "grants": grants}


def fingerprint(database: str | None = None) -> dict:
    with owner_connection(database) as connection, connection.cursor() as cursor:
        return {"tables": table_fingerprints(cursor), "security": security_fingerprint(cursor)}


# --- dump and restore -------------------------------------------------------------------------
def dump(path: Path, *, database: str | None = None) -> dict:
    """pg_dump (custom format) of the owner's database; returns its fingerprint at dump time."""
    params = owner_params(database)
    with owner_connection(database) as connection:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
            # The dump and the numbers come from one snapshot: writes during the backup
            # cannot make them disagree.
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [
                    pg_bin("pg_dump"),
                    *_tool_args(params),
                    "-d",
                    params["dbname"],
                    "-Fc",
                    f"--snapshot={snapshot}",
                    "-f",
                    str(path),
                ],
                env=_tool_env(params),
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
            tables = table_fingerprints(cursor)
            security = security_fingerprint(cursor)
        connection.rollback()
    return {"tables": tables, "security": security}


def create_database(name: str) -> None:
    with owner_connection(autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    with owner_connection(autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def restore(path: Path, *, database: str, clean: bool = False) -> None:
    params = owner_params(database)
    args = [pg_bin("pg_restore"), *_tool_args(params), "-d", database, "--exit-on-error"]
    if clean:
        args += ["--clean", "--if-exists"]
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [*args, str(path)], env=_tool_env(params), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")


def verify(path: Path, expected: dict) -> list[str]:
    """Restore into a scratch database and compare; returns the differences (none = good)."""
    scratch = f"{owner_params()['dbname']}_verify_{uuid.uuid4().hex[:8]}"
    create_database(scratch)
    try:
        restore(path, database=scratch)
        actual = fingerprint(scratch)
    finally:
        drop_database(scratch)
    return compare(expected, actual)


def compare(expected: dict, actual: dict) -> list[str]:
    problems = []
    for table, numbers in expected["tables"].items():
        got = actual["tables"].get(table)
        if got != numbers:
            problems.append(f"{table}: expected {numbers}, restored {got}")
    for extra in set(actual["tables"]) - set(expected["tables"]):
        problems.append(f"{extra}: unexpected table")
    for key in ("rls", "policies", "grants"):
        if expected["security"][key] != actual["security"][key]:
            problems.append(f"{key} differ after restore")
    return problems


# --- MongoDB ----------------------------------------------------------------------------------
def mongo_export(path: Path) -> int:
    """Every document of the platform's Mongo database as JSON lines (Extended JSON)."""
    from datastore import documents

    database = documents.get_database()
    count = 0
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for name in sorted(database.list_collection_names()):
            for doc in database[name].find({}):
                out.write(json_util.dumps({"c": name, "d": doc}) + "\n")
                count += 1
    return count


def mongo_import(path: Path, *, database=None, drop: bool = True) -> int:
    from datastore import documents

    database = database if database is not None else documents.get_database()
    batches: dict[str, list] = {}
    with gzip.open(path, "rt", encoding="utf-8") as source:
        for line in source:
            item = json_util.loads(line)
            batches.setdefault(item["c"], []).append(item["d"])
    for name, docs in batches.items():
        if drop:
            database[name].drop()
        database[name].insert_many(docs)
    return sum(len(docs) for docs in batches.values())


# --- the whole run ----------------------------------------------------------------------------
def backup_dir() -> Path:
    directory = Path(settings.BACKUP_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def backup_run(*, with_mongo: bool = True, verify_restore: bool = True) -> BackupRun:
    """Dump, export, verify, record; then apply the retention policy."""
    run = BackupRun.objects.create()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = backup_dir() / f"platform-{stamp}-{run.pk}.dump"
    details = []
    try:
        expected = dump(path)
        run.path = str(path)
        run.size_bytes = path.stat().st_size
        run.tables = expected["tables"]
        if with_mongo:
            from datastore import documents

            try:
                run.mongo_documents = mongo_export(path.with_suffix(".mongo.jsonl.gz"))
            except documents.DocumentStoreUnavailable:
                details.append("MongoDB not configured: no document export.")
        if verify_restore:
            problems = verify(path, expected)
            if problems:
                raise BackupError("verification failed: " + "; ".join(problems)[:2000])
            run.verified = True
        run.status = BackupRun.Status.OK
    except Exception as exc:  # recorded on the run, then re-raised for the caller/Celery
        run.status = BackupRun.Status.FAILED
        run.detail = "\n".join([*details, f"{type(exc).__name__}: {exc}"])[:5000]
        run.finished_at = timezone.now()
        run.save()
        logger.error("backup_failed", run=run.pk, error=str(exc)[:300])
        raise
    run.detail = "\n".join(details)
    run.finished_at = timezone.now()
    run.save()
    backup_prune(keep=settings.BACKUP_KEEP)
    logger.info("backup_done", run=run.pk, size=run.size_bytes, verified=run.verified)
    return run


def backup_prune(*, keep: int) -> list[int]:
    """Keep the files of the ``keep`` newest verified backups; delete older files."""
    good = list(
        BackupRun.objects.filter(status=BackupRun.Status.OK)
        .exclude(path="")
        .order_by("-started_at", "-pk")
    )
    pruned = []
    for run in good[keep:]:
        dump_path = Path(run.path)
        for file in (dump_path, dump_path.with_suffix(".mongo.jsonl.gz")):
            file.unlink(missing_ok=True)
        run.path = ""
        run.detail = (run.detail + "\npruned by the retention policy").strip()
        run.save(update_fields=["path", "detail"])
        pruned.append(run.pk)
    return pruned
