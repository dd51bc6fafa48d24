"""Connection pooling: Django's psycopg pool and its numbers, and PgBouncer in transaction mode
as an alternative, with the tenant context still transaction-local."""

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from datastore.selectors import pool_stats
from scripts.devstack import PgBouncer
from tests.datastore.live import ROOT, free_port, live_server, seed_org


@pytest.mark.django_db
def test_pool_stats_report_size_available_waiting_errors():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    stats = pool_stats()
    assert {"size", "available", "waiting", "errors"} <= stats.keys()
    assert stats["max"] == settings.DATABASE_POOL_MAX_SIZE
    assert 1 <= stats["size"] <= stats["max"]
    assert stats["waiting"] == 0


def _connection_settings(**env) -> str:
    code = (
        "import django; django.setup();"
        "from django.db import connection; connection.ensure_connection();"
        "print(repr(connection.connection.prepare_threshold),"
        " connection.settings_dict.get('DISABLE_SERVER_SIDE_CURSORS', False))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_pgbouncer_mode_turns_off_prepared_statements_and_server_cursors(django_db_setup):
    direct = {"DATABASE_PREPARE_THRESHOLD": "5", "DATABASE_PGBOUNCER": "false"}
    assert _connection_settings(**direct) == "5 False"
    assert _connection_settings(**{**direct, "DATABASE_PGBOUNCER": "true"}) == "None True"


@pytest.fixture
def pgbouncer():
    if not Path(PgBouncer.BINARY).exists():
        pytest.skip("pgbouncer is not installed (make installs it with apt)")
    db = settings.DATABASES["owner"]
    workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    bouncer = PgBouncer(
        workdir,
        free_port(),
        databases={db["NAME"]: (db["HOST"] or "127.0.0.1", int(db["PORT"]), db["NAME"])},
        app_user=settings.DATABASE_APP_USER,
        app_password=settings.DATABASE_APP_PASSWORD,
        pool_size=4,
    )
    bouncer.start()
    try:
        yield bouncer.port
    finally:
        bouncer.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _pgbouncer_transactions(port: int) -> int:
    with (
        psycopg.connect(
            host="127.0.0.1",
            port=port,
            dbname="pgbouncer",
            user=settings.DATABASE_APP_USER,
            password=settings.DATABASE_APP_PASSWORD,
            autocommit=True,
            prepare_threshold=None,
        ) as admin,
        admin.cursor() as cursor,
    ):
        cursor.execute("SHOW STATS")
        columns = [c.name for c in cursor.description]
        for row in cursor.fetchall():
            item = dict(zip(columns, row, strict=True))
            if item["database"] == settings.DATABASES["owner"]["NAME"]:
                return int(item["total_xact_count"])
    return 0


@pytest.mark.slow
def test_through_pgbouncer_in_transaction_mode(django_db_setup, committed, pgbouncer):
    orgs = [seed_org("bouncer-a"), seed_org("bouncer-b")]
    before = _pgbouncer_transactions(pgbouncer)
    with live_server(
        DATABASE_APP_HOST="127.0.0.1",
        DATABASE_APP_PORT=str(pgbouncer),
        DATABASE_PGBOUNCER="true",
        DATABASE_POOL_MAX_SIZE="12",
    ) as base:

        def run(index: int) -> list[str]:
            problems = []
            with httpx.Client(base_url=base, timeout=30) as client:
                for step in range(30):
                    me = orgs[(index + step) % 2]
                    response = client.get(
                        me["url"],
                        params={"limit": "50", "count": "true"},
                        headers={"Authorization": f"Bearer {me['token']}"},
                    )
                    if response.status_code != 200:
                        problems.append(str(response.status_code))
                        continue
                    body = response.json()
                    if body["count"] != 30 or any(
                        row["id"] not in me["ids"] for row in body["results"]
                    ):
                        problems.append(f"foreign or missing rows for {me['slug']}")
            return problems

        with ThreadPoolExecutor(10) as pool:
            problems = [p for result in pool.map(run, range(10)) for p in result]
    assert problems == []
    # The requests really went through PgBouncer (4 server connections for 12 clients) ...
    assert _pgbouncer_transactions(pgbouncer) - before >= 300
    # ... and no tenant context survives a transaction on its shared server connections.
    with psycopg.connect(
        host="127.0.0.1",
        port=pgbouncer,
        dbname=settings.DATABASES["owner"]["NAME"],
        user=settings.DATABASE_APP_USER,
        password=settings.DATABASE_APP_PASSWORD,
        autocommit=True,
        prepare_threshold=None,
    ) as probe:
        for _ in range(20):
            value = probe.execute("SELECT current_setting('app.org_id', true)").fetchone()[0]
            assert value in ("", None)
            assert probe.execute("SELECT count(*) FROM datastore_record").fetchone()[0] == 0
