#!/usr/bin/env python3
"""The platform scaled out on loopback: N app instances behind one nginx, as several hosts
would run it.

    cluster.py up [--instances 4] [--dir ./var/cluster] [--port 8000]   start, print, serve
    cluster.py status [--dir ...]    where everything is (JSON), from the running ``up``
    cluster.py down [--dir ...]      stop the running ``up`` (as Ctrl-C does)

What ``up`` starts, each piece the engine production uses (nothing of the platform's own):

* a PostgreSQL primary (durable: fsync on) and one hot standby streaming from it
  (``devstack.PostgresStandby``: ``pg_basebackup -R``), the app role and RLS on both;
* PgBouncer in transaction mode: database "platform" -> the primary, "platform_replica" ->
  the standby; every app instance reaches PostgreSQL through it (migrations, run as the
  owner, go to the primary directly);
* the Redis Sentinel topology of ``scripts/redis_ha.py`` (a primary, two replicas, three
  sentinels, passwords; no TLS on loopback);
* N app instances ``app1``..``appN``, each a gunicorn (gthread, WSGI) and a uvicorn
  (websockets, ASGI) on its own ports, with ``PLATFORM_INSTANCE=appN`` (the
  ``X-Platform-Instance`` response header names it);
* nginx on the public port, serving the committed site file (deploy/nginx/platform.conf)
  with each upstream turned into the N instances (``devstack.nginx_site``): round robin, and
  a request that cannot reach one instance goes to the next unless it is non-idempotent;
* two Celery workers, one beat and the functions supervisor, started again when they exit.

Data lives under ``--dir``: PostgreSQL's clusters and the credentials survive a restart;
Redis is started empty each time (it holds caches, sessions' copies and the broker's queue).
The tests use the same code (``Cluster``) on free ports.
"""

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import devstack  # noqa: E402
from scripts.redis_ha import RedisHA  # noqa: E402

STATE_FILE = "cluster.json"  # what ``up`` is running, read by ``status`` and ``down``
# Inherited variables that would point the instances elsewhere (a test run's own servers).
_FOREIGN = ("DATABASE_", "REDIS_", "PROMETHEUS_MULTIPROC_DIR", "PLATFORM_INSTANCE")


def log(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http://127.0.0.1 only)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_http(url: str, *, timeout: float, processes=()) -> None:
    """Until ``url`` answers 200; a process of ``processes`` that exits is a failure."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            last = _get(url)
            if last == 200:
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 in {timeout:.0f} s (last: {last})")


class Instance:
    """One app instance: a gunicorn (HTTP) and a uvicorn (websockets) on ports of its own,
    each in its own process group. Its ports stay the same when it is started again."""

    def __init__(self, name: str, env: dict, log_dir: Path, *, threads: int = 8):
        self.name = name
        self.env = {**env, "PLATFORM_INSTANCE": name}
        self.http_port, self.ws_port = devstack.free_port(), devstack.free_port()
        self.threads = threads
        self.log_path = log_dir / f"{name}.log"
        self.processes: list[subprocess.Popen] = []

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def start(self) -> "Instance":
        """Start both servers (returns at once; ``wait_ready`` waits for them)."""
        if self.alive():
            return self
        self.stop()
        with open(self.log_path, "ab") as output:
            http = devstack.gunicorn_command("127.0.0.1", self.http_port, threads=self.threads)
            ws = devstack.uvicorn_command("127.0.0.1", self.ws_port, self.env)
            self.processes = [
                devstack.spawn(http, self.env, output),
                devstack.spawn(ws, self.env, output),
            ]
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            wait_for_http(f"{self.http_url}/health/live", timeout=timeout, processes=self.processes)
            devstack.wait_for_port(self.ws_port, timeout=timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{self.name} did not start ({exc}); see {self.log_path}") from None

    def alive(self) -> bool:
        return bool(self.processes) and all(p.poll() is None for p in self.processes)

    def kill(self) -> None:
        """SIGKILL both process groups (gunicorn's master and workers, uvicorn): the abrupt
        death of a host that the front must route around."""
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes:
            process.wait(timeout=30)

    def stop(self) -> None:
        for process in self.processes:
            devstack.stop_group(process)

    def status(self) -> dict:
        return {
            "name": self.name,
            "http": self.http_url,
            "ws": self.ws_url,
            "alive": self.alive(),
            "pids": [p.pid for p in self.processes],
            "log": str(self.log_path),
        }


class Cluster:
    """Everything ``up`` starts (see the module docstring), in Python for the tests.

    ``extra_env``: variables every instance, worker and beat gets on top (a test lowers a
    rate limit with it). ``port``: nginx's; None picks a free one.
    """

    def __init__(
        self,
        base_dir: Path | str,
        instances: int = 4,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        threads: int = 8,
        workers: int = 2,
        extra_env: dict | None = None,
    ):
        if instances < 1:
            raise ValueError("instances >= 1")
        self.base = Path(base_dir).resolve()
        self.host = host
        self.port = port or devstack.free_port()
        self.instance_count, self.threads, self.worker_count = instances, threads, workers
        self.extra_env = dict(extra_env or {})
        self.log_dir = self.base / "logs"
        self.credentials: dict = {}
        self.env: dict = {}
        self.demo: dict[str, str] = {}
        self.primary: devstack.Postgres | None = None
        self.replica: devstack.PostgresStandby | None = None
        self.pgbouncer: devstack.PgBouncer | None = None
        self.redis: RedisHA | None = None
        self.instances: list[Instance] = []
        self.supervised: list[devstack.Supervised] = []
        self.nginx: subprocess.Popen | None = None
        self._started: list = []  # what down() stops, in reverse

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- start ----------------------------------------------------------------------------
    def up(self, timeout: float = 180.0) -> "Cluster":
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        self.log_dir.mkdir(exist_ok=True)
        try:
            self._start_postgres()
            self._start_redis()
            self.env = self._instance_env()
            direct = {**self.env, "DATABASE_APP_HOST": "127.0.0.1",
                      "DATABASE_APP_PORT": str(self.primary.port)}  # fmt: skip
            log("migrating (as the owner, on the primary)")
            devstack.manage(direct, "migrate", "--no-input", "-v", "0")
            self.demo = parse_demo(devstack.manage(direct, "bootstrap_demo", capture=True))
            self._start_background()
            self._start_instances(timeout)
            self._start_nginx(timeout)
        except BaseException:
            self.down()
            raise
        return self

    def _start_postgres(self) -> None:
        self.credentials = devstack.load_credentials(self.base / "credentials.json")
        self.primary = devstack.Postgres(
            devstack.postgres_datadir(self.base, "pg-primary"), devstack.free_port(), durable=True
        )
        log(f"PostgreSQL primary on 127.0.0.1:{self.primary.port} (fsync on)")
        self._started.append(self.primary)  # stopped even if it fails half-way
        self.primary.start(self.credentials)
        self.replica = devstack.PostgresStandby(
            self.primary, devstack.postgres_datadir(self.base, "pg-replica"), devstack.free_port()
        )
        log(f"PostgreSQL standby on 127.0.0.1:{self.replica.port} (streaming from the primary)")
        self._started.append(self.replica)
        self.replica.start()
        name = self.credentials["database"]
        self.pgbouncer = devstack.PgBouncer(
            self.base / "pgbouncer",
            devstack.free_port(),
            databases={
                name: ("127.0.0.1", self.primary.port, name),
                f"{name}_replica": ("127.0.0.1", self.replica.port, name),
            },
            app_user=self.credentials["app_user"],
            app_password=self.credentials["app_password"],
            pool_size=20,
        )
        log(f"PgBouncer on 127.0.0.1:{self.pgbouncer.port} (transaction pooling)")
        self._started.append(self.pgbouncer)
        self.pgbouncer.start()

    def _start_redis(self) -> None:
        directory = self.base / "redis"
        shutil.rmtree(directory, ignore_errors=True)  # started empty: see the module docstring
        self.redis = RedisHA(directory, replicas=2, sentinels=3, tls=False)
        self._started.append(self.redis)
        self.redis.start()
        log(f"Redis primary on 127.0.0.1:{self.redis.primary.port}, 2 replicas, 3 sentinels")

    def _secret_key(self) -> str:
        path = self.base / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    def _instance_env(self) -> dict:
        """What every instance, worker and beat gets (``env``; instances add their name)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
        name = self.credentials["database"]
        return {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.local",
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": self._secret_key(),  # one key: a token from one instance is good on all
            "PLATFORM_VAR_DIR": str(self.base),  # shared: file storage, functions' socket
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            # nginx is the front: its X-Forwarded-For names the client (rate limits per IP).
            "AUTHN_TRUSTED_PROXIES": "127.0.0.1/32",
            **devstack.service_env(self.credentials, self.primary.port, None),
            "DATABASE_APP_HOST": "127.0.0.1",
            "DATABASE_APP_PORT": str(self.pgbouncer.port),
            "DATABASE_PGBOUNCER": "true",
            "DATABASE_REPLICA_HOST": "127.0.0.1",
            "DATABASE_REPLICA_PORT": str(self.pgbouncer.port),
            "DATABASE_REPLICA_NAME": f"{name}_replica",
            **self.redis.env(),
            **self.extra_env,
        }

    def _start_background(self) -> None:
        celery = [str(Path(devstack.PYTHON).parent / "celery"), "-A", "platform_site"]
        commands = [
            ("functions supervisor", [devstack.PYTHON, str(ROOT / "manage.py"),
                                      "functions_supervisor"]),
            *[(f"celery worker{n}", [*celery, "worker", "--loglevel", "warning",
                                      "--concurrency", "1", "-n", f"worker{n}@%h"])
              for n in range(1, self.worker_count + 1)],
            ("celery beat", [*celery, "beat", "--loglevel", "warning",
                             "--schedule", str(self.base / "celerybeat-schedule")]),
        ]  # fmt: skip
        for name, command in commands:
            with open(self.log_dir / f"{name.replace(' ', '-')}.log", "ab") as output:
                child = devstack.Supervised(name, command, self.env, output)
            self.supervised.append(child)
            self._started.append(child)
        log(f"{self.worker_count} Celery workers, beat, functions supervisor")

    def _start_instances(self, timeout: float) -> None:
        self.instances = [
            Instance(f"app{n}", self.env, self.log_dir, threads=self.threads)
            for n in range(1, self.instance_count + 1)
        ]
        for instance in self.instances:
            self._started.append(instance)
            instance.start()
        for instance in self.instances:
            instance.wait_ready(timeout)
            log(f"{instance.name}: HTTP {instance.http_url}, websockets {instance.ws_url}")

    def _start_nginx(self, timeout: float) -> None:
        command = devstack.nginx_command(
            self.base / "nginx",
            host=self.host,
            port=self.port,
            http_port=[i.http_port for i in self.instances],
            ws_port=[i.ws_port for i in self.instances],
        )
        with open(self.log_dir / "nginx.log", "ab") as output:
            self.nginx = devstack.spawn(command, self.env, output)
        self._started.append(self.nginx)
        wait_for_http(f"{self.url}/health/live", timeout=timeout, processes=[self.nginx])
        log(f"nginx on {self.url} in front of {len(self.instances)} instances")

    # --- while running ------------------------------------------------------------------------
    def check(self) -> None:
        """Restart a Celery worker, beat or the functions supervisor that exited."""
        for child in self.supervised:
            child.check()

    def stop_primary(self) -> None:
        """Stop the PostgreSQL primary (``pg_ctl stop -m fast``); the standby keeps serving."""
        self.primary.stop()

    def start_primary(self) -> None:
        self.primary.start(self.credentials)

    def status(self) -> dict:
        redis = self.redis
        return {
            "url": self.url,
            "dir": str(self.base),
            "instances": [i.status() for i in self.instances],
            "nginx": {
                "port": self.port,
                "pid": self.nginx.pid if self.nginx else None,
                "config": str(self.base / "nginx" / "nginx.conf"),
            },  # fmt: skip
            "postgres": {
                "primary": {"port": self.primary.port, "datadir": str(self.primary.datadir)},
                "replica": {"port": self.replica.port, "datadir": str(self.replica.datadir)},
            }
            if self.primary and self.replica
            else {},
            "pgbouncer": {
                "port": self.pgbouncer.port,
                "databases": {
                    k: f"{h}:{p}/{d}" for k, (h, p, d) in self.pgbouncer.databases.items()
                },
            }
            if self.pgbouncer
            else {},
            "redis": {
                "primary": _redis_primary(redis),
                "replicas": [n.port for n in redis.replicas],
                "sentinels": [n.port for n in redis.sentinels],
            }
            if redis
            else {},
            "background": {c.name: c.process.pid for c in self.supervised},
            "logs": str(self.log_dir),
            "demo": self.demo,
        }

    # --- stop -------------------------------------------------------------------------------
    def down(self) -> None:
        """Stop everything this object started, front first, databases last."""
        while self._started:
            service = self._started.pop()
            try:
                if isinstance(service, subprocess.Popen):
                    devstack.stop_group(service)
                else:
                    service.stop()
            except Exception as exc:  # stop the rest regardless
                log(f"stopping {service!r}: {exc}")
        self.supervised.clear()

    def destroy(self) -> None:
        """``down``, then delete every file of the cluster (a test's or a benchmark's)."""
        self.down()
        remove(self.base)


def remove(base: Path) -> None:
    """Delete a stopped cluster's files under ``base``, its PostgreSQL clusters wherever they
    are kept (as root, in /var/lib: ``devstack.postgres_datadir`` links them into ``base``)."""
    for name in ("pg-primary", "pg-replica"):
        link = base / name
        if link.is_symlink():
            real = link.resolve()
            shutil.rmtree(real, ignore_errors=True)
            with contextlib.suppress(OSError):
                real.parent.rmdir()  # once both are gone
    shutil.rmtree(base, ignore_errors=True)


def _redis_primary(redis: RedisHA) -> int:
    """The primary the sentinels name (after a fail-over, not the one started as primary)."""
    try:
        return redis.current_primary_port()
    except Exception:  # sentinels not up (yet, or any more)
        return redis.primary.port


def parse_demo(output: str) -> dict[str, str]:
    """The demo credentials and keys ``bootstrap_demo`` printed, by what they are."""
    demo = {}
    for line in output.splitlines():
        label, sep, value = line.partition(": ")
        if sep and line.endswith("(shown once)"):
            demo[label] = value.removesuffix("(shown once)").strip()
    return demo


def print_status(status: dict) -> None:
    log(f"the platform: {status['url']}  (Studio /studio/, API docs /api/docs/)")
    for instance in status["instances"]:
        log(f"  {instance['name']}: {instance['http']} (HTTP), {instance['ws']} (websockets)")
    pg, bouncer = status["postgres"], status["pgbouncer"]
    log(f"PostgreSQL primary :{pg['primary']['port']}, standby :{pg['replica']['port']}")
    log(f"PgBouncer :{bouncer['port']}: {bouncer['databases']}")
    redis = status["redis"]
    log(f"Redis primary :{redis['primary']}, sentinels {redis['sentinels']}")
    log(f"logs under {status['logs']}; `cluster.py status` prints this as JSON")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_up(base: Path, instances: int, port: int) -> int:
    state = base / STATE_FILE
    if state.exists():
        running = json.loads(state.read_text())
        if _alive(running.get("pid")):
            sys.exit(f"a cluster already runs from {base} (pid {running['pid']}): `down` first")
    cluster = Cluster(base, instances=instances, port=port)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        cluster.up()
        print_status(cluster.status())
        state.touch(mode=0o600)  # the demo's passwords and keys are in it
        state.write_text(json.dumps({"pid": os.getpid(), **cluster.status()}, indent=2))
        log("Ctrl-C (or `cluster.py down`) stops everything")
        while cluster.nginx.poll() is None:
            cluster.check()
            time.sleep(0.5)
        log(f"nginx exited with {cluster.nginx.returncode}; stopping")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.down()
        state.unlink(missing_ok=True)
        log("stopped")


def _alive(pid) -> bool:
    """Whether ``pid`` runs (an exited process its parent has not reaped yet does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # Linux: "<pid> (<name>) <state> ...", state Z for a zombie
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _running(base: Path) -> dict | None:
    state = base / STATE_FILE
    if not state.exists():
        return None
    running = json.loads(state.read_text())
    return running if _alive(running.get("pid")) else None


def cmd_status(base: Path) -> int:
    running = _running(base)
    if running is None:
        print(json.dumps({"running": False, "dir": str(base)}))
        return 1
    print(json.dumps({"running": True, **running}, indent=2))
    return 0


def cmd_down(base: Path, timeout: float = 120.0) -> int:
    running = _running(base)
    if running is None:
        log(f"no cluster runs from {base}")
        return 0
    os.kill(running["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(running["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(running["pid"]):
        log(f"pid {running['pid']} still runs after {timeout:.0f} s")
        return 1
    log("stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "status", "down"):
        command = sub.add_parser(name)
        command.add_argument("--dir", default=str(ROOT / "var" / "cluster"))
        if name == "up":
            command.add_argument("--instances", type=int, default=4)
            command.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    base = Path(args.dir).resolve()
    if args.command == "up":
        return cmd_up(base, args.instances, args.port)
    if args.command == "status":
        return cmd_status(base)
    return cmd_down(base)


if __name__ == "__main__":
    sys.exit(main())
