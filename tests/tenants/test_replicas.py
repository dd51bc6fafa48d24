"""Read replicas on a real PostgreSQL primary and its streaming standby (``PostgresStandby``),
with the platform as a live server process pointed at both (``DATABASE_REPLICA_*``).

The cluster is this module's own (free ports, its own Redis), migrated and seeded with the
demo (``bootstrap_demo``). A standby cannot hold rows of its own, so a read is shown to come
from it by pausing its replay (``pg_wal_replay_pause()``): a write made then is on the primary
only, and a read that misses it was answered by the replica.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from cache.entities import EPOCH_KEY
from scripts.devstack import (
    Postgres,
    PostgresStandby,
    free_port,
    give_to_postgres,
    load_credentials,
    service_env,
)
from tenants.context import _SET_SQL, TenantContext, _setting_values
from tests.observability.conftest import wait_until
from tests.servers import AppServer, OwnRedis

ROOT = Path(__file__).resolve().parents[2]
MAX_LAG = 10  # seconds: the server's DATABASE_REPLICA_MAX_LAG_SECONDS
STICKY = 60  # seconds: long enough that a writer stays sticky for a whole test
TODOS = "/client/v1/collections/todos/records/"

pytestmark = pytest.mark.timeout(110)

EVALUATE_ALERTS = f"""
from observability import alerts
from observability.models import AlertRule
from tenants.context import TenantContext, tenant_context
with tenant_context(TenantContext(platform_admin=True)):
    alerts.ensure_builtin_rules()
    AlertRule.objects.filter(kind="replication_lag").update(threshold={MAX_LAG})
alerts.evaluate()
"""


class Cluster:
    """The primary, the standby, and SQL on each as the superuser or the app role."""

    def __init__(self, base: Path):
        self.credentials = load_credentials(base / "credentials.json")
        self.primary = Postgres(base / "primary", free_port(), durable=True)
        self.standby = PostgresStandby(self.primary, base / "standby", free_port())

    def sql(self, server: Postgres, query: str, params=(), *, user: str = "postgres"):
        """One statement as the superuser (socket) or as the app role (TCP), autocommit."""
        if user == "postgres":
            conninfo = f"host={server.sockdir} port={server.port} user=postgres dbname=platform"
        else:
            conninfo = (
                f"host=127.0.0.1 port={server.port} dbname=platform user={user} "
                f"password={self.credentials['app_password']}"
            )
        with psycopg.connect(conninfo, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def caught_up(self) -> bool:
        target = self.sql(self.primary, "SELECT pg_current_wal_lsn()")[0][0]
        (done,) = self.sql(self.standby, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])[
            0
        ]
        return bool(done)

    def pause_replay(self) -> None:
        # A commit replayed just now: the lag measured once replay is paused counts from here.
        self.sql(self.primary, "CREATE TABLE IF NOT EXISTS replica_probe (at timestamptz)")
        self.sql(self.primary, "INSERT INTO replica_probe VALUES (now())")
        wait_until(self.caught_up, timeout=60)
        self.sql(self.standby, "SELECT pg_wal_replay_pause()")
        wait_until(
            lambda: (
                self.sql(self.standby, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused"
            ),
        )

    def start_primary(self) -> None:
        # Postgres.stop() removes the socket directory; the restart needs it back.
        self.primary.sockdir.mkdir(exist_ok=True)
        give_to_postgres(self.primary.sockdir, 0o755)
        self.primary.start(self.credentials)

    def resume_replay(self) -> None:
        self.sql(self.standby, "SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def stack():
    # Not under pytest's tmp_path: the postgres user must reach the data directories.
    base = Path(tempfile.mkdtemp(prefix="platform-replicas-"))
    base.chmod(0o755)
    cluster = Cluster(base)
    redis = OwnRedis(base)
    started = []
    try:
        cluster.primary.start(cluster.credentials)
        started.append(cluster.primary)
        env = {
            **os.environ,
            **service_env(cluster.credentials, cluster.primary.port, None),
            "DATABASE_APP_HOST": "127.0.0.1",
            "DATABASE_APP_PORT": str(cluster.primary.port),
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            env=env, cwd=ROOT, check=True,
        )  # fmt: skip
        demo = subprocess.run(
            [sys.executable, "manage.py", "bootstrap_demo"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        cluster.standby.start()
        started.append(cluster.standby)
        redis.start()
        server = AppServer(
            env={
                **{k: v for k, v in env.items() if k.startswith("DATABASE_")},
                "REDIS_URL": redis.url,
                "DATABASE_REPLICA_HOST": "127.0.0.1",
                "DATABASE_REPLICA_PORT": str(cluster.standby.port),
                "DATABASE_REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
                "DATABASE_REPLICA_STICKY_SECONDS": str(STICKY),
                # A stopped primary answers 503 after this wait for a connection, not after 10s.
                "DATABASE_POOL_TIMEOUT": "2",
                "DATABASE_POOL_RECONNECT_TIMEOUT": "300",
            },
            log_path=base / "server.log",
        ).start()
        try:
            yield {**_seeded(cluster, server, demo), "redis": redis}
        finally:
            server.stop()
    finally:
        redis.kill()
        for postgres in reversed(started):
            postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


def _seeded(cluster: Cluster, server: AppServer, demo: str) -> dict:
    http = httpx.Client(base_url=server.url, timeout=30)
    owner_password = re.search(r"Demo org owner: \S+ / (\S+)", demo)[1]
    publishable = re.search(r"Demo publishable key: (\S+)", demo)[1]
    secret = re.search(r"Demo secret key: (\S+)", demo)[1]
    login = http.post(
        "/api/v1/auth/login/", json={"email": "owner@demo.example", "password": owner_password}
    )
    assert login.status_code == 200, login.text
    developer = {"Authorization": f"Bearer {login.json()['access']}"}
    projects = http.get("/api/v1/orgs/demo/projects/", headers=developer).json()
    items = projects["results"] if isinstance(projects, dict) else projects
    project_id = next(p["id"] for p in items if p["name"] == "todo-app")

    def end_user(name: str) -> dict:
        response = http.post(
            "/client/v1/auth/signup/",
            headers={"apikey": publishable},
            json={"email": f"{name}@example.com", "password": "a long passphrase 123"},
        )
        assert response.status_code == 201, response.text
        session = response.json()["session"]
        return {
            "id": session["user"]["id"],
            "headers": {
                "apikey": publishable,
                "Authorization": f"Bearer {session['access_token']}",
            },
        }

    return {
        "cluster": cluster,
        "server": server,
        "http": http,
        "developer": developer,
        "secret": {"apikey": secret},
        "project_id": project_id,
        "records": f"/api/v1/orgs/demo/projects/{project_id}/collections/todos/records/",
        "end_user": end_user,
    }


def titles(response) -> set[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {(row.get("data") or row).get("title") for row in rows}


def test_reads_from_the_replica_writes_and_own_reads_on_the_primary(stack):
    http, cluster = stack["http"], stack["cluster"]
    writer = stack["end_user"](f"writer-{uuid.uuid4().hex[:8]}")
    # Warm: each caller's identity and entities are known before replay pauses.
    for headers in (writer["headers"], stack["secret"]):
        assert http.get(TODOS, headers=headers).status_code == 200
    assert http.get(stack["records"], headers=stack["developer"]).status_code == 200
    assert http.get("/rest/v1/todos", headers=stack["secret"]).status_code == 200

    cluster.pause_replay()
    try:
        title = f"fresh-{uuid.uuid4().hex}"
        created = http.post(TODOS, headers=writer["headers"], json={"data": {"title": title}})
        assert created.status_code == 201, created.text
        # On the primary only: other callers read the replica and miss it ...
        assert title not in titles(http.get(TODOS, headers=stack["secret"]))
        assert title not in titles(http.get(stack["records"], headers=stack["developer"]))
        assert title not in titles(http.get("/rest/v1/todos", headers=stack["secret"]))
        # ... the writer's own reads stay on the primary (sticky) and see it.
        assert title in titles(http.get(TODOS, headers=writer["headers"]))
        record = http.get(f"{TODOS}{created.json()['id']}/", headers=writer["headers"])
        assert record.status_code == 200, record.text

        # Past the max lag every read goes to the primary.
        def lagging():
            body = http.get("/health/ready").json()
            return body["replica"]["state"] == "lagging" and body

        ready = wait_until(lagging, timeout=MAX_LAG * 6)
        assert ready["replica"]["lag_seconds"] > MAX_LAG
        assert ready["status"] == "ok" and ready["degraded"] == ["replica"]
        assert title in titles(http.get(TODOS, headers=stack["secret"]))
        assert title in titles(http.get(stack["records"], headers=stack["developer"]))
        # The replication_lag rule reads the same measurement (its threshold lowered to it).
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", EVALUATE_ALERTS],
            env=stack["server"].env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        alert = cluster.sql(
            cluster.primary,
            "SELECT state, summary FROM observability_alert WHERE dedup_key = 'replication_lag'",
        )
        assert alert and alert[0][0] == "firing" and "replica lag" in alert[0][1], alert
    finally:
        cluster.resume_replay()
    wait_until(cluster.caught_up, timeout=60)
    ready = wait_until(
        lambda: (b := http.get("/health/ready").json())["replica"]["state"] == "ok" and b,
    )
    assert ready["replica"]["lag_seconds"] < MAX_LAG and "degraded" not in ready


def test_row_level_security_holds_on_the_replica(stack):
    http, cluster = stack["http"], stack["cluster"]
    alice, bob = (stack["end_user"](f"{n}-{uuid.uuid4().hex[:8]}") for n in ("alice", "bob"))
    for user, count in ((alice, 2), (bob, 3)):
        for n in range(count):
            response = http.post(TODOS, headers=user["headers"], json={"data": {"n": n}})
            assert response.status_code == 201, response.text
    wait_until(cluster.caught_up, timeout=60)

    def rows_seen(context: TenantContext | None) -> list:
        """Every record row the app role sees on the standby, no WHERE clause."""
        conninfo = (
            f"host=127.0.0.1 port={cluster.standby.port} dbname=platform "
            f"user={cluster.credentials['app_user']} "
            f"password={cluster.credentials['app_password']}"
        )
        with psycopg.connect(conninfo) as conn, conn.transaction():
            if context is not None:
                conn.execute(_SET_SQL, _setting_values(context))
            return conn.execute("SELECT end_user_id FROM datastore_record").fetchall()

    project = uuid.UUID(stack["project_id"])

    def as_user(user) -> TenantContext:
        return TenantContext(
            project_id=project, end_user_id=uuid.UUID(user["id"]), client_role="authenticated"
        )

    assert rows_seen(None) == []
    seen = rows_seen(as_user(alice))
    assert len(seen) == 2 and {str(r[0]) for r in seen} == {alice["id"]}
    assert len(rows_seen(as_user(bob))) == 3
    # The replica's role is the primary's: read-only there, whatever it may do on the primary.
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        cluster.sql(cluster.standby, "DELETE FROM datastore_record", user="platform_app")


def test_primary_stopped_writes_503_reads_from_the_replica_nothing_acknowledged_lost(stack):
    http, cluster = stack["http"], stack["cluster"]
    writer = stack["end_user"](f"steady-{uuid.uuid4().hex[:8]}")
    reader = {"apikey": stack["secret"]["apikey"]}
    # Warm the readers on the replica path, and see one replica-served answer first.
    assert http.get(TODOS, headers=reader).status_code == 200
    assert http.get(stack["records"], headers=stack["developer"]).status_code == 200

    acknowledged: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def write_forever():
        with httpx.Client(base_url=stack["server"].url, timeout=30) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = client.post(
                        TODOS, headers=writer["headers"], json={"data": {"seq": n}}
                    )
                except httpx.HTTPError:
                    statuses.append(-1)
                    continue
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
                time.sleep(0.02)

    thread = threading.Thread(target=write_forever, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(acknowledged) >= 5)
        cluster.primary.stop()
        wait_until(lambda: statuses[-3:] == [503] * 3, timeout=60)

        # Writes: 503 with Retry-After in each family's shape.
        native = http.post(TODOS, headers=writer["headers"], json={"data": {"x": 1}})
        assert native.status_code == 503 and native.headers["Retry-After"].isdigit()
        assert native.json()["error"]["code"] == "database_unavailable"
        developer = http.post(stack["records"], headers=stack["developer"], json={"data": {}})
        assert developer.status_code == 503 and "Retry-After" in developer.headers
        assert developer.json()["error"]["status"] == 503
        postgrest = http.post("/rest/v1/todos", headers=reader, json={"title": "x"})
        assert postgrest.status_code == 503 and "Retry-After" in postgrest.headers
        assert set(postgrest.json()) == {"code", "message", "details", "hint"}

        # Reads that tolerate lag keep answering, from the replica ...
        assert http.get(TODOS, headers=reader).status_code == 200
        assert http.get(stack["records"], headers=stack["developer"]).status_code == 200
        assert http.get("/rest/v1/todos", headers=reader).status_code == 200
        # ... also with the server's copies of keys, users and memberships void (a new epoch,
        # as a cold process has none): those loads fall back to the replica too.
        stack["redis"].client().set(EPOCH_KEY, uuid.uuid4().hex)
        assert http.get(TODOS, headers=reader).status_code == 200
        assert http.get(stack["records"], headers=stack["developer"]).status_code == 200
        stack["redis"].client().set(EPOCH_KEY, uuid.uuid4().hex)
        assert http.get("/rest/v1/todos", headers=reader).status_code == 200
        ready = http.get("/health/ready")
        assert ready.status_code == 503 and "postgres" in ready.json()["failing"]
        assert ready.json()["replica"]["state"] == "ok"

        cluster.start_primary()
        count = len(acknowledged)
        wait_until(lambda: len(acknowledged) > count + 3, timeout=90)
    finally:
        stop.set()
        thread.join(timeout=60)
        if not (cluster.primary.datadir / "postmaster.pid").exists():
            cluster.start_primary()

    assert 500 not in statuses and 503 in statuses
    ids = [uuid.UUID(i) for i in acknowledged]
    stored = cluster.sql(
        cluster.primary, "SELECT count(*) FROM datastore_record WHERE id = ANY(%s)", [ids]
    )[0][0]
    assert stored == len(ids), f"{len(ids) - stored} acknowledged writes lost"
    log = (Path(stack["server"].log_path)).read_text()
    # One warning per process per minute, no traceback per request.
    assert log.count("database_unavailable") <= 2, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_health_ready_reports_the_replica(stack):
    body = stack["http"].get("/health/ready").json()
    assert body["replica"]["state"] in ("ok", "lagging")
    assert body["replica"]["max_lag_seconds"] == MAX_LAG
    assert isinstance(body["replica"]["lag_seconds"], float | int)
    json.dumps(body)  # plain JSON for load balancers and dashboards
