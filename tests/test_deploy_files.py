"""The production files under ``deploy/`` and the Docker ones at the root say what runs.

Each systemd unit's ExecStart must name a program of the virtualenv and a module, manage.py
command or Celery app that exists; the HTTP and websocket units must run exactly what
``scripts/devstack.py`` builds (``gunicorn_command``, ``uvicorn_command``); the compose
services must run the units' commands; every variable a unit, the EnvironmentFile or compose
sets must be one the platform reads (a misspelt name is a setting silently left at its
default); the EnvironmentFile, filled in, must pass ``check --deploy`` and, as committed,
must be refused; the committed PgBouncer files must hold the settings devstack's
``PgBouncer`` writes. Docker itself is not run: no Docker daemon runs on these machines.
"""

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from scripts import devstack

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
ENV_FILE = UNITS / "platform.env.example"
COMPOSE = ROOT / "docker-compose.yml"
PREFIX = "/opt/platform"  # where the units expect the checkout (WorkingDirectory)
VENV_BIN = f"{PREFIX}/.venv/bin/"
# Options that take the functions' sandbox away: bubblewrap creates user (and mount, pid,
# net, ipc, uts, cgroup) namespaces; the supervisor writes cgroups when it may.
SANDBOX_BREAKERS = (
    "RestrictNamespaces",
    "PrivateUsers",
    "SystemCallFilter",
    "ProtectKernelTunables",
    "ProtectProc",
    "ProtectControlGroups",
)
# Where the platform reads its environment: settings (env.<type>("NAME")), cache/config.py and
# a few modules (os.environ / environ.get), production's _required("NAME").
_READ_PATTERNS = (
    r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"",
    r"\b_required\(\s*\"([A-Z][A-Z0-9_]+)\"",
    r"\benviron(?:\.get|\.setdefault)?\(\s*\"([A-Z][A-Z0-9_]+)\"",
    r"\benviron\[\s*\"([A-Z][A-Z0-9_]+)\"\s*\]",
)
_NOT_PLATFORM = {"tests", "scripts", "bench", "node_modules", "docs", "deploy", "var"}


def variables_the_platform_reads() -> set[str]:
    names: set[str] = set()
    files = [ROOT / "gunicorn.conf.py", ROOT / "manage.py"]
    for directory in ROOT.iterdir():
        if (
            directory.is_dir()
            and not directory.name.startswith(".")
            and (directory.name not in _NOT_PLATFORM)
        ):
            files.extend(p for p in directory.rglob("*.py") if "node_modules" not in p.parts)
    for path in files:
        text = path.read_text()
        for pattern in _READ_PATTERNS:
            names.update(re.findall(pattern, text))
    return names


def read_unit(path: Path) -> dict[str, list[str]]:
    """``Section.Key`` -> its values in order (systemd allows a key more than once)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return values


def units() -> dict[str, dict[str, list[str]]]:
    return {path.name: read_unit(path) for path in sorted(UNITS.glob("*.service"))}


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (no quoting used here)."""
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
            env[key] = value
    return env


def expand(argv: list[str], env: dict[str, str], instance: str = "") -> list[str]:
    """systemd's expansion of a command line: ${VAR} from the environment, %i, %%."""
    out = []
    for word in argv:
        word = re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], word)
        word = word.replace("%i", instance).replace("%%", "%")
        assert "%" not in word.replace("%h", ""), f"unexpanded specifier in {word!r}"
        out.append(word)
    return out


def exec_start(unit: dict[str, list[str]]) -> list[str]:
    (line,) = unit["Service.ExecStart"]
    return shlex.split(line)


def program(argv: list[str]) -> list[str]:
    """A command line with its program as a bare name ("python", "gunicorn", "celery")."""
    name = Path(argv[0]).name
    return ["python" if re.fullmatch(r"python[0-9.]*", name) else name, *argv[1:]]


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def platform_services() -> dict[str, dict]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == "platform:local"
    }


def interpolate(value: str) -> str:
    """Compose's ${VAR:?msg} / ${VAR:-default}: a stand-in for the .env value."""
    return re.sub(
        r"\$\{(\w+)(?::([?-])([^}]*))?\}",
        lambda m: m[3] if m[2] == "-" else f"compose-{m[1].lower()}",
        value,
    )


# --- systemd ------------------------------------------------------------------------------


def test_every_unit_runs_a_program_and_target_that_exist():
    found = units()
    assert {"platform-http.service", "platform-ws.service", "platform-functions.service",
            "platform-worker@.service", "platform-beat.service"} <= set(found)  # fmt: skip
    commands = get_commands()
    for name, unit in found.items():
        argv = exec_start(unit)
        assert argv[0].startswith(VENV_BIN), (name, argv[0])
        assert (Path(sys.executable).parent / argv[0].removeprefix(VENV_BIN)).exists(), name
        assert unit["Service.WorkingDirectory"] == [PREFIX], name
        assert unit["Service.EnvironmentFile"] == ["/etc/platform/platform.env"], name
        assert unit["Service.Restart"] == ["on-failure"], name
        words = program(argv)
        if words[0] == "gunicorn" or words[1:3] == ["-m", "uvicorn"]:
            target = words[1] if words[0] == "gunicorn" else words[3]
            module, _, attribute = target.partition(":")
            assert callable(getattr(importlib.import_module(module), attribute)), name
        elif words[0] == "python":
            assert words[1] == "manage.py" and (ROOT / "manage.py").exists(), name
            assert words[2] in commands, (name, words[2])
        else:
            assert words[:3] == ["celery", "-A", "platform_site"], name
            assert words[3] in ("worker", "beat"), name
            assert importlib.import_module("platform_site.celery").app.main, name


def test_http_and_websocket_units_run_what_devstack_builds():
    env = read_env_file()
    http = program(expand(exec_start(units()["platform-http.service"]), env))
    assert http == program(devstack.gunicorn_command("127.0.0.1", 8001, workers=4, threads=8))
    ws = program(expand(exec_start(units()["platform-ws.service"]), env))
    assert ws == program(devstack.uvicorn_command("127.0.0.1", 8002, env))


def test_one_beat_per_deployment_and_workers_as_a_template():
    found = units()
    beats = [n for n, u in found.items() if program(exec_start(u))[3:4] == ["beat"]]
    workers = [n for n, u in found.items() if program(exec_start(u))[3:4] == ["worker"]]
    assert beats == ["platform-beat.service"] and workers == ["platform-worker@.service"]
    assert "one per deployment" in (UNITS / "platform-beat.service").read_text().lower()
    worker = program(expand(exec_start(found["platform-worker@.service"]), {}, "2"))
    assert worker[worker.index("--hostname") + 1] == "worker2@%h"
    for unit in found.values():
        assert "--beat" not in exec_start(unit) and "-B" not in exec_start(unit)
    # beat is not part of the app host's target: enabling the target on N hosts starts none.
    target = (UNITS / "platform.target").read_text()
    assert "platform-beat" not in read_unit(UNITS / "platform.target").get("Unit.Wants", [""])[0]
    assert "platform-worker" in target


def test_the_functions_unit_keeps_the_sandbox_working():
    unit = units()["platform-functions.service"]
    for option in SANDBOX_BREAKERS:
        assert f"Service.{option}" not in unit, option
    # The socket the HTTP servers call is in the unit's runtime directory.
    socket = Path(read_env_file()["FUNCTIONS_SUPERVISOR_SOCKET"])
    assert unit["Service.RuntimeDirectory"] == [socket.parent.name]
    assert socket.parent.parent == Path("/run")
    assert unit["Service.NoNewPrivileges"] == ["yes"]
    assert unit["Service.CapabilityBoundingSet"] == [""]
    # The other units are locked down further.
    assert units()["platform-http.service"]["Service.RestrictNamespaces"] == ["yes"]


def test_bubblewrap_runs_unprivileged_with_what_the_functions_unit_takes_away():
    """The sandbox's namespaces and mounts (functions/sandbox.py bwrap_command), as an
    unprivileged user with no_new_privs and an empty capability bounding set, as the unit
    runs it (NoNewPrivileges=yes, CapabilityBoundingSet=)."""
    setpriv, bwrap = shutil.which("setpriv"), shutil.which("bwrap")
    if os.geteuid() != 0 or not setpriv or not bwrap:
        pytest.skip("needs root (to become an unprivileged user), setpriv and bwrap")
    result = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs",
         "--bounding-set=-all", "--",
         bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
         "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
         "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
         "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
         "/bin/sh", "-c", "test $$ -lt 10 && touch /tmp/ok && echo sandboxed"],
        capture_output=True, text=True, timeout=30, cwd="/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sandboxed"


def test_every_variable_the_units_set_is_one_the_platform_reads():
    read = variables_the_platform_reads()
    # The scanner finds the settings of every kind of source it covers.
    assert {"SECRET_KEY", "DATABASE_APP_PASSWORD", "REDIS_SENTINELS", "PLATFORM_INSTANCE",
            "PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE"} <= read  # fmt: skip
    assert "SECRET_KEYS" not in read
    names = set(read_env_file())
    for unit in units().values():
        for assignment in unit.get("Service.Environment", []):
            names.update(word.partition("=")[0] for word in shlex.split(assignment))
        for word in exec_start(unit):
            names.update(re.findall(r"\$\{(\w+)\}", word))
    for service in platform_services().values():
        names.update(service.get("environment", {}))
    assert names - read == set()


def test_the_env_file_is_refused_as_committed_and_passes_check_deploy_filled_in():
    committed = read_env_file()
    for secret in ("SECRET_KEY", "DATABASE_URL", "DATABASE_APP_PASSWORD"):
        assert committed[secret] == "", f"{secret} must be a placeholder"

    def check(env: dict) -> subprocess.CompletedProcess:
        clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            env={**clean, **env},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )

    refused = check(committed)
    assert refused.returncode != 0 and "SECRET_KEY must be set in production" in refused.stderr
    filled = {
        **committed,
        "SECRET_KEY": "s" * 30 + "-filled-in-by-the-operator-" + "t" * 30,
        "DATABASE_URL": "postgres://owner:pw@10.0.0.21:5432/platform",
        "DATABASE_APP_PASSWORD": "app-password",
    }
    result = check(filled)
    assert result.returncode == 0, result.stderr


def test_systemd_accepts_the_units():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    files = [str(p) for p in sorted(UNITS.glob("*.service"))] + [str(UNITS / "platform.target")]
    result = subprocess.run([analyze, "verify", *files], capture_output=True, text=True, timeout=60)
    # The checkout is not installed under /opt/platform on this machine; anything else
    # (an unknown key, a bad value, a missing section) is a finding.
    findings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not re.search(rf"Command {VENV_BIN}\w+ is not executable", line)
    ]
    assert findings == []


# --- PgBouncer ----------------------------------------------------------------------------


def pgbouncer_settings(text: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    parser = ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    parser.read_string(text)
    databases = {
        name: dict(word.split("=", 1) for word in value.split())
        for name, value in parser["databases"].items()
    }
    return dict(parser["pgbouncer"]), databases


# Where a host runs it: addresses and paths differ; everything else must be devstack's.
_PER_HOST = {"listen_addr", "auth_file", "logfile"}


@pytest.mark.parametrize("path", ["deploy/pgbouncer/pgbouncer.ini", "deploy/docker/pgbouncer.ini"])
def test_committed_pgbouncer_files_hold_devstacks_settings(path, tmp_path):
    from django.conf import settings

    committed, databases = pgbouncer_settings((ROOT / path).read_text())
    bouncer = devstack.PgBouncer(
        tmp_path,
        6432,
        databases={name: ("h", 5432, "platform") for name in ("platform", "platform_replica")},
        app_user=settings.DATABASE_APP_USER,
        app_password="unused",
    )
    rendered, rendered_databases = pgbouncer_settings(bouncer.config())
    assert set(committed) == set(rendered)
    for key in set(rendered) - _PER_HOST:
        assert committed[key] == rendered[key], key
    assert committed["pool_mode"] == "transaction"
    assert set(databases) == set(rendered_databases)
    assert {name: db["dbname"] for name, db in databases.items()} == {
        name: db["dbname"] for name, db in rendered_databases.items()
    }


class CommittedPgBouncer(devstack.PgBouncer):
    """devstack's PgBouncer process, run with the committed file: only the per-host values
    (addresses, paths) are this run's."""

    def __init__(self, committed: Path, workdir: Path, port: int, server: tuple, **kwargs):
        super().__init__(workdir, port, databases={}, **kwargs)
        self.committed, self.server = committed, server

    def config(self) -> str:
        host, port, dbname = self.server
        per_host = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "auth_file": str(self.workdir / "users.txt"),
            "logfile": str(self.workdir / "pgbouncer.log"),
        }
        lines = []
        for line in self.committed.read_text().splitlines():
            key = line.split("=", 1)[0].strip()
            if key in per_host:
                line = f"{key} = {per_host[key]}"
            elif key in ("platform", "platform_replica"):
                line = f"{key} = host={host} port={port} dbname={dbname}"
            lines.append(line)
        return "\n".join(lines) + "\n"


@pytest.mark.timeout(60)
def test_the_committed_pgbouncer_file_pools_the_app_role_in_transaction_mode(django_db_setup):
    import tempfile

    import psycopg
    from django.conf import settings

    if not Path(devstack.PgBouncer.BINARY).exists():
        pytest.skip("pgbouncer is not installed (make installs it with apt)")
    db = settings.DATABASES["owner"]
    workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))  # reachable by the postgres user
    bouncer = CommittedPgBouncer(
        ROOT / "deploy/pgbouncer/pgbouncer.ini",
        workdir,
        devstack.free_port(),
        (db["HOST"] or "127.0.0.1", int(db["PORT"]), db["NAME"]),
        app_user=settings.DATABASE_APP_USER,
        app_password=settings.DATABASE_APP_PASSWORD,
    )
    bouncer.start()
    try:
        login = {
            "host": "127.0.0.1",
            "port": bouncer.port,
            "user": settings.DATABASE_APP_USER,
            "password": settings.DATABASE_APP_PASSWORD,
            "prepare_threshold": None,
        }
        with psycopg.connect(dbname="platform", **login) as connection:
            row = connection.execute(
                "SELECT current_user, set_config('app.org_id', 'x', true)"
            ).fetchone()
            assert row == (settings.DATABASE_APP_USER, "x")
        with psycopg.connect(dbname="pgbouncer", autocommit=True, **login) as admin:
            config = {row[0]: row[1] for row in admin.execute("SHOW CONFIG").fetchall()}
        assert config["pool_mode"] == "transaction"
        # The owner role is not in the auth file: it cannot come through PgBouncer.
        with pytest.raises(psycopg.OperationalError):
            owner = {**login, "user": db["USER"], "password": db["PASSWORD"]}
            psycopg.connect(dbname="platform", **owner).close()
    finally:
        bouncer.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- docker-compose -----------------------------------------------------------------------


def _unit_for(argv: list[str]) -> tuple[str, str]:
    """The unit a compose command corresponds to, and its template instance."""
    words = program(argv)
    if words[0] == "gunicorn":
        return "platform-http.service", ""
    if words[1:3] == ["-m", "uvicorn"]:
        return "platform-ws.service", ""
    if words[:3] == ["python", "manage.py", "functions_supervisor"]:
        return "platform-functions.service", ""
    if words[3:4] == ["worker"]:
        hostname = words[words.index("--hostname") + 1]
        return "platform-worker@.service", re.fullmatch(r"worker(\d+)@%h", hostname)[1]
    if words[3:4] == ["beat"]:
        return "platform-beat.service", ""
    raise AssertionError(f"no unit runs {argv}")


ANYWHERE = "0.0.0.0"  # noqa: S104 (a container's address, compared as text)


def _bind_anywhere(argv: list[str]) -> list[str]:
    """A container listens on all its addresses where a host's unit listens on loopback."""
    return [ANYWHERE if w == "127.0.0.1" else w.replace("127.0.0.1:", f"{ANYWHERE}:") for w in argv]


def test_compose_services_run_the_units_commands():
    found, services = units(), platform_services()
    ran = set()
    for name, service in services.items():
        if name == "migrate":
            assert program(service["command"]) == ["python", "manage.py", "migrate", "--no-input"]
            continue
        unit, instance = _unit_for(service["command"])
        env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
        expected = _bind_anywhere(program(expand(exec_start(found[unit]), env, instance)))
        assert program(service["command"]) == expected, name
        ran.add(unit)
    assert ran == set(found)
    workers = [n for n, s in services.items() if program(s["command"])[3:4] == ["worker"]]
    beats = [n for n, s in services.items() if program(s["command"])[3:4] == ["beat"]]
    assert len(workers) == 2 and beats == ["beat"]


def test_compose_environment_passes_check_deploy():
    """The app services' environment (with stand-ins for .env) is one production accepts."""
    (service, *_) = [s for n, s in platform_services().items() if n == "app1"]
    env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
    assert env["SECRET_KEY"] == "compose-secret_key"
    env["SECRET_KEY"] = "c" * 60  # check --deploy wants a long key; .env holds the real one
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_compose_nginx_rewrites_the_committed_site_files_upstreams():
    nginx = compose()["services"]["nginx"]
    script = nginx["command"][0]
    site = devstack.NGINX_SITE.read_text()
    replaced = re.findall(r"s/(server [^/]+;)/", script)
    assert sorted(replaced) == sorted([devstack._SITE_HTTP, devstack._SITE_WS])
    for needle in replaced:
        assert site.count(needle) == 1, needle
    apps = [n for n, s in platform_services().items() if program(s["command"])[0] == "gunicorn"]
    assert all(f"server {app}:8001;" in script for app in apps) and len(apps) >= 2
    assert "./deploy/nginx/platform.conf:/platform.conf:ro" in nginx["volumes"]
