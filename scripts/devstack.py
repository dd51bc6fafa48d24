#!/usr/bin/env python3
"""Start the local PostgreSQL and Redis the platform needs, then serve it or test it.

    devstack.py run           persistent servers (data under ./var), migrate, demo data, serve
    devstack.py test [ARGS]   throwaway servers on free ports, then pytest ARGS
    devstack.py bench SCRIPT [ARGS]   throwaway servers, migrate, then python SCRIPT ARGS

``DATABASE_URL`` / ``REDIS_URL`` in the environment point at existing servers instead.
Standard library only: this runs before anything else is configured.
"""

import argparse
import contextlib
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
IS_ROOT = os.geteuid() == 0


def log(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(name: str) -> str:
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: install PostgreSQL (make installs it with apt).")
    return found


def as_postgres(cmd: list[str]) -> list[str]:
    # initdb and pg_ctl refuse to run as root; "/" keeps postgres out of a private checkout's cwd.
    return ["runuser", "-u", "postgres", "--", "env", "-C", "/", *cmd] if IS_ROOT else cmd


def give_to_postgres(path: Path, mode: int = 0o700) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if IS_ROOT:
        shutil.chown(path, "postgres", "postgres")


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Postgres:
    """One PostgreSQL cluster: an owner role and database, and the app role's password."""

    def __init__(self, datadir: Path, port: int, *, durable: bool):
        self.datadir = datadir
        self.port = port
        self.durable = durable
        self.sockdir = Path(tempfile.mkdtemp(prefix="pgsock-"))
        give_to_postgres(self.sockdir, 0o755)

    def _psql(self, sql: str, db: str = "postgres") -> None:
        subprocess.run(
            [
                pg_bin("psql"),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.sockdir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ],
            check=True,
        )

    def start(self, credentials: dict) -> None:
        give_to_postgres(self.sockdir, 0o755)  # stop() removes it: start again after a stop
        fresh = not (self.datadir / "PG_VERSION").exists()
        if fresh:
            give_to_postgres(self.datadir)
            subprocess.run(
                as_postgres(
                    [
                        pg_bin("initdb"),
                        "-D",
                        str(self.datadir),
                        "-U",
                        "postgres",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "-E",
                        "UTF8",
                    ]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        options = f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            as_postgres(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.datadir / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        owner, app = credentials["owner_user"], credentials["app_user"]
        if fresh:
            self._psql(f"CREATE ROLE {owner} LOGIN CREATEROLE CREATEDB BYPASSRLS")
            self._psql(f"CREATE DATABASE {credentials['database']} OWNER {owner}")
        # Passwords follow the credentials file, even if ./var was wiped and made anew.
        # CREATEDB: backups are verified by restoring into a scratch database.
        self._psql(
            f"ALTER ROLE {owner} CREATEDB PASSWORD '{credentials['owner_password']}';"
            f" DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app}') THEN"
            f" ALTER ROLE {app} PASSWORD '{credentials['app_password']}'; END IF; END $$;"
        )

    def stop(self) -> None:
        subprocess.run(
            as_postgres([pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.sockdir, ignore_errors=True)


class PostgresStandby(Postgres):
    """A hot standby of ``primary`` by streaming replication: ``pg_basebackup -R`` copies the
    primary (roles, passwords, row-level security policies and all) and the standby replays
    its WAL from then on. Read-only; the same app role connects to it."""

    def __init__(self, primary: Postgres, datadir: Path, port: int):
        super().__init__(datadir, port, durable=primary.durable)
        self.primary = primary

    def start(self, credentials: dict | None = None) -> None:
        if not (self.datadir / "PG_VERSION").exists():
            give_to_postgres(self.datadir)
            subprocess.run(
                as_postgres(
                    [
                        pg_bin("pg_basebackup"),
                        "-D", str(self.datadir),
                        "-h", str(self.primary.sockdir),
                        "-p", str(self.primary.port),
                        "-U", "postgres",
                        "-X", "stream",
                        "-R",  # standby.signal + primary_conninfo
                        "-c", "fast",
                    ]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        else:
            self._follow_primary()
        give_to_postgres(self.sockdir, 0o755)
        options = f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=300 -c hot_standby=on -c hot_standby_feedback=on"
        subprocess.run(
            as_postgres(
                [
                    pg_bin("pg_ctl"), "-D", str(self.datadir),
                    "-l", str(self.datadir / "server.log"), "-o", options, "-w", "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def _follow_primary(self) -> None:
        """A kept standby started again: the primary's socket directory and port are this
        run's, so the ``primary_conninfo`` that ``pg_basebackup -R`` wrote is brought up to date."""
        auto = self.datadir / "postgresql.auto.conf"
        text = auto.read_text()
        # (a value with "/" in it is quoted, its quotes doubled inside the setting's own)
        text = re.sub(r"\bhost=(''[^']*''|[^\s']+)", f"host={self.primary.sockdir}", text)
        text = re.sub(r"\bport=\d+", f"port={self.primary.port}", text)
        auto.write_text(text)  # an existing file: its owner (postgres) stays

    def promote(self) -> None:
        """Make the standby a primary (fail-over by hand: ``pg_ctl promote``)."""
        subprocess.run(
            as_postgres([pg_bin("pg_ctl"), "-D", str(self.datadir), "-w", "promote"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )


class PgBouncer:
    """PgBouncer in transaction mode in front of one PostgreSQL, for the app role only (the
    owner connects directly: migrations, backups). ``databases``: name -> (host, port) of the
    servers it pools, e.g. the primary as "platform" and the standby as "platform_replica"."""

    BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

    def __init__(
        self,
        workdir: Path,
        port: int,
        *,
        databases: dict[str, tuple[str, int, str]],
        app_user: str,
        app_password: str,
        pool_size: int = 20,
    ):
        self.workdir, self.port = workdir, port
        self.databases, self.app_user, self.app_password = databases, app_user, app_password
        self.pool_size = pool_size
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        lines = "\n".join(
            f"{name} = host={host} port={port} dbname={dbname}"
            for name, (host, port, dbname) in self.databases.items()
        )
        return (
            f"[databases]\n{lines}\n\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {self.workdir / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\n"
            "max_client_conn = 1000\n"
            f"stats_users = {self.app_user}\n"
            # psycopg sends these at connect; transaction pooling cannot keep them per client.
            "ignore_startup_parameters = extra_float_digits,options\n"
            # A server that cannot be reached (the primary down) fails a waiting query after
            # this long, which the app answers with a 503, instead of holding it 120 s.
            "query_wait_timeout = 10\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n"
        )

    def start(self) -> None:
        if not Path(self.BINARY).exists():
            sys.exit("pgbouncer not found: install it (make installs it with apt).")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        (self.workdir / "users.txt").write_text(f'"{self.app_user}" "{self.app_password}"\n')
        (self.workdir / "pgbouncer.ini").write_text(self.config())
        for path in [self.workdir, *self.workdir.iterdir()]:
            if IS_ROOT:  # pgbouncer runs as postgres and writes its log here
                shutil.chown(path, "postgres", "postgres")
        command = [self.BINARY, str(self.workdir / "pgbouncer.ini")]
        if IS_ROOT:  # pgbouncer refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            wait_for_port(self.port, timeout=15)
        except TimeoutError:
            log_file = self.workdir / "pgbouncer.log"
            detail = log_file.read_text() if log_file.exists() else ""
            self.stop()
            raise RuntimeError(f"pgbouncer did not start: {detail}") from None

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)


class Redis:
    def __init__(self, datadir: Path, port: int, *, durable: bool):
        self.datadir = datadir
        self.port = port
        self.durable = durable
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes"] if self.durable else ["--save", "", "--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.datadir),
                *persistence,
                "--logfile",
                str(self.datadir / "redis.log"),
            ],
            start_new_session=True,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)


def load_credentials(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    import secrets

    credentials = {
        "database": "platform",
        "owner_user": "platform",
        "owner_password": secrets.token_hex(16),
        "app_user": "platform_app",
        "app_password": secrets.token_hex(16),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials))
    path.chmod(0o600)
    return credentials


def service_env(credentials: dict, pg_port: int | None, redis_port: int | None) -> dict:
    env = {}
    if pg_port is not None:
        env["DATABASE_URL"] = (
            f"postgres://{credentials['owner_user']}:{credentials['owner_password']}"
            f"@127.0.0.1:{pg_port}/{credentials['database']}"
        )
        env["DATABASE_APP_USER"] = credentials["app_user"]
        env["DATABASE_APP_PASSWORD"] = credentials["app_password"]
    if redis_port is not None:
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    return env


def postgres_datadir(base: Path, name: str) -> Path:
    """Where a kept PostgreSQL cluster ``base/name`` lives. As root, postgres cannot reach a
    checkout under a private home: the cluster is kept in /var/lib and linked into ``base``,
    where the rest of the local state lives."""
    if not IS_ROOT:
        return base / name
    digest = hashlib.sha256(str(base.resolve()).encode()).hexdigest()[:12]
    real = Path("/var/lib/platform-dev") / digest / name
    real.parent.mkdir(parents=True, exist_ok=True)
    link = base / name
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(real)
    return real


class Stack:
    """The servers this run started, stopped again in reverse order."""

    def __init__(self):
        self.started: list = []

    def stop(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()


def start_services(base: Path, credentials: dict, *, durable: bool, stack: Stack) -> dict:
    pg_port = redis_port = None
    if not os.environ.get("DATABASE_URL"):
        pg_port = int(os.environ.get("PLATFORM_PG_PORT") or free_port())
        datadir = postgres_datadir(base, "pg") if durable else base / "pg"
        postgres = Postgres(datadir, pg_port, durable=durable)
        log(f"PostgreSQL on 127.0.0.1:{pg_port} ({datadir})")
        postgres.start(credentials)
        stack.started.append(postgres)
    if not os.environ.get("REDIS_URL"):
        redis_port = int(os.environ.get("PLATFORM_REDIS_PORT") or free_port())
        redis = Redis(base / "redis", redis_port, durable=durable)
        log(f"Redis on 127.0.0.1:{redis_port}")
        redis.start()
        stack.started.append(redis)
    return service_env(credentials, pg_port, redis_port)


def spawn(cmd: list[str], env: dict, output=None) -> subprocess.Popen:
    """A child in its own process group: Ctrl-C reaches this script, which stops children
    in order (app first, databases last) and can kill a child's whole group if it lingers.
    ``output``: a file for its stdout and stderr (default: this script's)."""
    stderr = subprocess.STDOUT if output is not None else None
    return subprocess.Popen(
        cmd, env=env, cwd=ROOT, start_new_session=True, stdout=output, stderr=stderr
    )


class Supervised:
    """A child started again whenever it exits: a Celery worker or beat that a broker restart
    brought down must not stay down (nor linger unreaped). Restarts back off from 1 s to 30 s
    while the child keeps dying young; one that ran for a minute starts again after 1 s."""

    def __init__(self, name: str, cmd: list[str], env: dict, output=None):
        self.name, self.cmd, self.env, self.output = name, cmd, env, output
        self.restarts = 0
        self._due: float | None = None
        self._start()

    def _start(self) -> None:
        self.process = spawn(self.cmd, self.env, self.output)
        self.started = time.monotonic()

    def check(self) -> None:
        """Reap an exited child and start it again once its back-off has passed."""
        code = self.process.poll()
        if code is None:
            return
        now = time.monotonic()
        if self._due is None:
            if now - self.started >= 60:
                self.restarts = 0
            delay = min(30, 2**self.restarts)
            log(f"{self.name} exited with {code}; starting it again in {delay}s")
            self._due = now + delay
        elif now >= self._due:
            self._due = None
            self.restarts += 1
            self._start()

    def stop(self) -> None:
        stop_group(self.process)


def stop_group(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def trusted_proxies(environ) -> str:
    """``AUTHN_TRUSTED_PROXIES`` (comma-separated CIDRs, the Django side's list) as the
    servers' ``forwarded_allow_ips``: normalised networks, "" when there are none."""
    items = environ.get("AUTHN_TRUSTED_PROXIES", "").split(",")
    return ",".join(str(ipaddress.ip_network(i.strip(), strict=False)) for i in items if i.strip())


def uvicorn_command(host: str, port: int, environ, *, log_level: str = "warning") -> list[str]:
    """How every uvicorn of the platform starts. Forwarding headers (X-Forwarded-For/-Proto)
    are believed only from the configured proxies: uvicorn's own default trusts 127.0.0.1,
    which would let any local caller choose its client address (and its rate-limit bucket)."""
    proxies = trusted_proxies(environ)
    proxy_options = ["--forwarded-allow-ips", proxies] if proxies else ["--no-proxy-headers"]
    return [
        PYTHON, "-m", "uvicorn", "platform_site.asgi:application",
        "--host", host, "--port", str(port), "--log-level", log_level, *proxy_options,
    ]  # fmt: skip


def gunicorn_command(
    host: str, port: int, *, workers: int = 1, threads: int = 8, log_level: str = "warning"
) -> list[str]:
    """HTTP through WSGI: gunicorn's gthread workers run the sync middleware stack on their
    own threads, without ASGI's loop-to-thread hops. ``gunicorn.conf.py`` (read from the
    checkout) sets the trusted proxies and the keep-alive nginx relies on."""
    return [
        str(Path(PYTHON).parent / "gunicorn"), "platform_site.wsgi:application",
        "-k", "gthread", "-w", str(workers), "--threads", str(threads),
        "-b", f"{host}:{port}", "--log-level", log_level,
    ]  # fmt: skip


NGINX_SITE = ROOT / "deploy" / "nginx" / "platform.conf"
# What nginx_site rewrites in the committed site file: its listen line, and the two upstreams.
_SITE_LISTEN = "    listen 80;\n"
_SITE_HTTP = "server 127.0.0.1:8001;"
_SITE_WS = "server 127.0.0.1:8002;"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        sys.exit("nginx not found: install it (make installs it with apt).")
    return found


def _servers(ports: int | Sequence[int]) -> str:
    ports = [ports] if isinstance(ports, int) else list(ports)
    if not ports:
        raise ValueError("an upstream needs at least one server")
    return "\n    ".join(f"server 127.0.0.1:{port};" for port in ports)


def nginx_site(
    *, host: str, port: int, http_port: int | Sequence[int], ws_port: int | Sequence[int]
) -> str:
    """The committed site file (deploy/nginx/platform.conf) with this run's addresses: one
    port per upstream, or a list of them (app instances behind one front,
    ``scripts/cluster.py``), each a ``server`` line of the upstream."""
    site = NGINX_SITE.read_text()
    for needle in (_SITE_LISTEN, _SITE_HTTP, _SITE_WS):
        if site.count(needle) != 1:
            raise ValueError(f"{NGINX_SITE} must hold {needle.strip()!r} exactly once")
    return (
        site.replace(_SITE_LISTEN, f"    listen {host}:{port};\n")
        .replace(_SITE_HTTP, _servers(http_port))
        .replace(_SITE_WS, _servers(ws_port))
    )


def nginx_command(
    directory: Path,
    *,
    host: str,
    port: int,
    http_port: int | Sequence[int],
    ws_port: int | Sequence[int],
):
    """nginx in the foreground with everything (config, pid, logs, temp files) under
    ``directory``, serving ``nginx_site`` on ``host:port``."""
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    # As root, nginx's workers would become "nobody", which may not reach a checkout's
    # directories for the request bodies it spools: they run as the rest of the stack does.
    user = "user root;\n" if IS_ROOT else ""
    config = directory / "nginx.conf"
    config.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;  # the platform writes its own access log\n"
        f"    client_body_temp_path {temp}/body;\n    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n    uwsgi_temp_path {temp}/uwsgi;\n"
        f"    scgi_temp_path {temp}/scgi;\n"
        + nginx_site(host=host, port=port, http_port=http_port, ws_port=ws_port)
        + "}\n"
    )
    return [nginx_binary(), "-p", str(directory), "-c", str(config)]


SERVED = ("gunicorn", "uvicorn", "nginx")  # what serve() starts, in its order


def serve(
    env: dict,
    host: str,
    port: int,
    directory: Path,
    *,
    workers: int = 1,
    threads: int = 8,
    log_level: str = "warning",
    output=None,
) -> list[subprocess.Popen]:
    """The platform on ``host:port`` as production runs it: nginx in front, HTTP to gunicorn
    (WSGI), websockets to uvicorn (ASGI), both on free loopback ports. Returns the three
    processes, nginx last; each in its own process group (``stop_group``)."""
    http_port, ws_port = free_port(), free_port()
    processes: list[subprocess.Popen] = []
    try:
        processes.append(spawn(gunicorn_command("127.0.0.1", http_port, workers=workers,
                                                threads=threads, log_level=log_level),
                               env, output))  # fmt: skip
        processes.append(
            spawn(uvicorn_command("127.0.0.1", ws_port, env, log_level=log_level), env, output)
        )
        wait_for_port(http_port, timeout=60)
        wait_for_port(ws_port, timeout=60)
        command = nginx_command(
            directory, host=host, port=port, http_port=http_port, ws_port=ws_port
        )
        processes.append(spawn(command, env, output))
    except BaseException:
        for process in reversed(processes):
            stop_group(process)
        raise
    return processes


def manage(env: dict, *args: str, capture: bool = False) -> str:
    """``manage.py ARGS``; with ``capture``, its output is returned (and still printed)."""
    command = [PYTHON, str(ROOT / "manage.py"), *args]
    if not capture:
        subprocess.run(command, env=env, check=True, cwd=ROOT)
        return ""
    result = subprocess.run(
        command, env=env, check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    print(result.stdout, end="", flush=True)
    return result.stdout


@contextlib.contextmanager
def throwaway_services(prefix: str):
    """Servers on free ports for one command; everything is deleted afterwards."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    stack = Stack()
    try:
        credentials = load_credentials(base / "credentials.json")
        env = {**os.environ, **start_services(base, credentials, durable=False, stack=stack)}
        env.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.test")
        env["PLATFORM_VAR_DIR"] = str(base)
        yield env
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)


# What a test worker's servers are to it (tests/shard.py applies them in each worker).
SHARD_KEYS = (
    "DATABASE_URL",
    "DATABASE_APP_USER",
    "DATABASE_APP_PASSWORD",
    "REDIS_URL",
    "PLATFORM_VAR_DIR",
)


def test_workers(pytest_args: list[str]) -> int:
    """Parallel workers for the whole suite (``PLATFORM_TEST_WORKERS``, default: one per
    core, at most 2); one when the arguments name what to run."""
    if os.environ.get("PLATFORM_TEST_WORKERS"):
        return max(1, int(os.environ["PLATFORM_TEST_WORKERS"]))
    if any(not arg.startswith("-") for arg in pytest_args):
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def cmd_test(pytest_args: list[str]) -> int:
    workers = test_workers(pytest_args)
    with contextlib.ExitStack() as services:
        shards = [
            services.enter_context(throwaway_services(f"platform-test-{n}-"))
            for n in range(workers)
        ]
        env = dict(shards[0])
        if workers > 1:
            # pytest-xdist: whole files to each worker as it frees up; each its own servers.
            for n, shard in enumerate(shards):
                env[f"PLATFORM_TEST_SHARD_gw{n}"] = json.dumps({k: shard[k] for k in SHARD_KEYS})
            pytest_args = ["-n", str(workers), "--dist", "loadfile", "-p", "tests.shard",
                           *pytest_args]  # fmt: skip
        code = subprocess.call([PYTHON, "-m", "pytest", *pytest_args], env=env, cwd=ROOT)
    if code == 5:
        log("pytest collected no tests: that is a failure, not a pass.")
        return 1
    return code


def cmd_exec(command: list[str]) -> int:
    """Run a command (a benchmark, a check) against migrated throwaway servers."""
    with throwaway_services("platform-exec-") as env:
        manage(env, "migrate", "--no-input", "-v", "0")
        return subprocess.call(command, env=env, cwd=ROOT)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_run(host: str, port: int) -> int:
    base = Path(os.environ.get("PLATFORM_VAR_DIR") or ROOT / "var")
    base.mkdir(parents=True, exist_ok=True)
    stack = Stack()
    children: list[subprocess.Popen | Supervised] = []
    try:
        credentials = load_credentials(base / "credentials.json")
        env = {**os.environ, **start_services(base, credentials, durable=True, stack=stack)}
        env.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")
        env["PLATFORM_VAR_DIR"] = str(base)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "bootstrap_demo")
        bin_dir = Path(PYTHON).parent
        celery = [str(bin_dir / "celery"), "-A", "platform_site"]
        # Worker, beat and the functions supervisor in processes of their own, each restarted
        # when it exits.
        supervised = [
            Supervised(
                "functions supervisor",
                [PYTHON, str(ROOT / "manage.py"), "functions_supervisor"],
                env,
            ),
            Supervised(
                "celery worker",
                [*celery, "worker", "--loglevel", "warning", "--concurrency", "2"],
                env,
            ),
            Supervised(
                "celery beat",
                [*celery, "beat", "--loglevel", "warning", "--schedule",
                 str(base / "celerybeat-schedule")],
                env,
            ),
        ]  # fmt: skip
        children.extend(supervised)
        manage(env, "functions_demo")  # hello-world in the demo project, once the supervisor is up
        servers = serve(env, host, port, base / "nginx")
        children.extend(servers)
        log(f"serving on http://{host}:{port}/  (Studio: /studio/, API docs: /api/docs/)")
        log("nginx: HTTP to gunicorn (WSGI), websockets to uvicorn (ASGI); Ctrl-C stops all")
        signal.signal(signal.SIGTERM, _interrupt)
        while all(server.poll() is None for server in servers):
            for child in supervised:
                child.check()
            time.sleep(0.5)
        name, gone = next(
            (n, p) for n, p in zip(SERVED, servers, strict=True) if p.poll() is not None
        )
        log(f"{name} exited with {gone.returncode}; stopping")
        return gone.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if isinstance(child, Supervised):
                child.stop()
            else:
                stop_group(child)
        stack.stop()
        log("stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    test = sub.add_parser("test")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    bench = sub.add_parser("bench", help="run a Python script (a benchmark) on throwaway servers")
    bench.add_argument("script_args", nargs=argparse.REMAINDER)
    execute = sub.add_parser("exec", help="run any command on throwaway servers")
    execute.add_argument("command_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command == "bench":
        return cmd_exec([PYTHON, *[a for a in args.script_args if a != "--"]])
    if args.command == "exec":
        return cmd_exec([a for a in args.command_args if a != "--"])
    if args.command == "run":
        return cmd_run(args.host, args.port)
    return cmd_test([a for a in args.pytest_args if a != "--"])


if __name__ == "__main__":
    sys.exit(main())
