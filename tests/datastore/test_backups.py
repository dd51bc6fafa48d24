"""Backups: pg_dump as the owner, verified restore, round trip, retention, schedule, Studio.

MongoDB is mongomock here (the one fake in the suite) unless MONGODB_URL is set.
"""

import uuid
from pathlib import Path

import mongomock
import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from datastore import backups, documents
from datastore import services as data_services
from datastore.models import BackupRun
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def backup_dir(tmp_path, settings):
    settings.BACKUP_DIR = str(tmp_path / "backups")
    return Path(settings.BACKUP_DIR)


@pytest.fixture
def mongo():
    client = mongomock.MongoClient(tz_aware=True)
    documents.set_client(client)
    yield client
    documents.set_client(None)


def seed(slug: str, n: int) -> None:
    owner = UserFactory()
    org = services.org_create(actor=owner, name=slug, slug=slug)
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        membership = org.memberships.get()
        project = services.project_create(membership=membership, name="app")
        collection = data_services.collection_create(
            membership=membership, project=project, name="items", access="owner"
        )
        data_services.record_bulk_create(
            membership=membership,
            collection=collection,
            items=[
                {"n": i, "text": f"row {i} of {slug}", "nested": {"x": [i, None]}} for i in range(n)
            ],
        )
        docs = data_services.collection_create(
            membership=membership, project=project, name="notes", store="documents"
        )
        documents.TenantDocuments(collection=docs, membership=membership).insert_many(
            [{"k": i} for i in range(3)]
        )


def app_role_count(database: str, table: str) -> tuple[int, int]:
    """Rows the app role sees with no org in context, and with one org in context."""
    params = backups.owner_params(database)
    with (
        psycopg.connect(
            host=params["host"],
            port=params["port"],
            dbname=database,
            user=settings.DATABASE_APP_USER,
            password=settings.DATABASE_APP_PASSWORD,
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(f"SELECT count(*) FROM {table}")
        without = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM tenants_organization LIMIT 0")
        with backups.owner_connection(database) as owner, owner.cursor() as owner_cursor:
            owner_cursor.execute(f"SELECT org_id FROM {table} LIMIT 1")
            org_id = owner_cursor.fetchone()[0]
        cursor.execute("SELECT set_config('app.org_id', %s, true)", [str(org_id)])
        cursor.execute("SELECT set_config('app.role', 'owner', true)")
        cursor.execute(f"SELECT count(*) FROM {table}")
        return without, cursor.fetchone()[0]


def test_backup_is_verified_and_recorded(django_db_setup, committed, backup_dir, mongo):
    seed("bk-a", 7)
    seed("bk-b", 5)
    call_command("backup")
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.OK and run.verified, run.detail
    assert run.tables["datastore_record"]["rows"] == 12
    assert run.tables["tenants_organization"]["rows"] == 2
    assert run.mongo_documents == 6
    assert Path(run.path).exists() and run.size_bytes > 0
    assert Path(run.path).with_suffix(".mongo.jsonl.gz").exists()


def test_a_restore_that_loses_a_row_fails_verification(
    django_db_setup, committed, backup_dir, mongo, monkeypatch
):
    seed("bk-c", 3)
    real_restore = backups.restore

    def lossy_restore(path, *, database, clean=False):
        real_restore(path, database=database, clean=clean)
        with backups.owner_connection(database, autocommit=True) as connection:
            connection.execute(
                "DELETE FROM datastore_record WHERE id = (SELECT id FROM datastore_record LIMIT 1)"
            )

    monkeypatch.setattr(backups, "restore", lossy_restore)
    with pytest.raises(backups.BackupError, match="datastore_record"):
        backups.backup_run()
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.FAILED and not run.verified
    assert "datastore_record" in run.detail


def test_backup_drop_restore_round_trip(django_db_setup, committed, backup_dir, mongo):
    seed("rt-a", 6)
    seed("rt-b", 4)
    dump_path = backup_dir / "round-trip.dump"
    backup_dir.mkdir(parents=True)
    source = backups.dump(dump_path)  # the numbers of the dump's own snapshot
    mongo_path = backup_dir / "round-trip.mongo.jsonl.gz"
    assert backups.mongo_export(mongo_path) == 6
    target = f"{backups.owner_params()['dbname']}_rt_{uuid.uuid4().hex[:6]}"
    try:
        call_command("restore", str(dump_path), database=target, create=True)
        assert backups.compare(source, backups.fingerprint(target)) == []
        # Drop the database, restore it from the dump again: same data, same security.
        backups.drop_database(target)
        call_command("restore", str(dump_path), database=target, create=True)
        restored = backups.fingerprint(target)
        assert backups.compare(source, restored) == []
        assert restored["tables"]["datastore_record"]["rows"] == 10
        assert ["datastore_record", "tenant_isolation"] in [
            p[:2] for p in restored["security"]["policies"]
        ]
        assert ["datastore_record", True, True] in restored["security"]["rls"]
        assert ["datastore_record", "SELECT"] in restored["security"]["grants"]
        # RLS works in the restored database: nothing without a context, one org's rows with.
        without, with_org = app_role_count(target, "datastore_record")
        assert without == 0 and with_org in (6, 4)
    finally:
        backups.drop_database(target)
    # Documents: the export loads back into an empty database.
    fresh = mongomock.MongoClient().get_database("restored")
    count = backups.mongo_import(mongo_path, database=fresh)
    assert count == 6
    assert sorted(
        (name, fresh[name].count_documents({})) for name in fresh.list_collection_names()
    ) == sorted(
        (name, documents.get_database()[name].count_documents({}))
        for name in documents.get_database().list_collection_names()
    )


@pytest.mark.django_db
def test_retention_keeps_the_newest_verified_backups(tmp_path):
    runs = []
    for index in range(4):
        path = tmp_path / f"b{index}.dump"
        path.write_bytes(b"x")
        path.with_suffix(".mongo.jsonl.gz").write_bytes(b"x")
        runs.append(BackupRun.objects.create(status=BackupRun.Status.OK, path=str(path)))
    failed = BackupRun.objects.create(status=BackupRun.Status.FAILED, path=str(tmp_path / "f"))
    pruned = backups.backup_prune(keep=2)
    assert sorted(pruned) == sorted([runs[0].pk, runs[1].pk])
    assert not (tmp_path / "b0.dump").exists() and not (tmp_path / "b1.mongo.jsonl.gz").exists()
    assert (tmp_path / "b2.dump").exists() and (tmp_path / "b3.dump").exists()
    failed.refresh_from_db()
    assert failed.path  # failed runs are not counted nor touched


@pytest.mark.django_db
def test_backup_is_scheduled_with_celery_beat():
    from django_celery_beat.models import PeriodicTask

    from platform_site.celery import app

    task = PeriodicTask.objects.get(task="datastore.backup")
    assert task.enabled and task.crontab is not None
    app.loader.import_default_modules()
    assert "datastore.backup" in app.tasks


@pytest.mark.django_db
def test_backup_runs_are_visible_in_the_studio(admin_client):
    from tenants.context import TenantContext as Context

    set_tenant_context(Context(platform_admin=True))
    run = BackupRun.objects.create(status=BackupRun.Status.OK, verified=True, path="/x.dump")
    response = admin_client.get("/studio/datastore/backuprun/")
    assert response.status_code == 200
    assert f"/studio/datastore/backuprun/{run.pk}/" in response.content.decode()
