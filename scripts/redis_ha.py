#!/usr/bin/env python3
"""A local Redis HA topology on loopback: a primary, replicas and sentinels, TLS and passwords.

    python scripts/redis_ha.py up [--dir DIR] [--replicas 2] [--sentinels 3] [--no-tls]

starts it, prints the environment that points the platform at it (``REDIS_SENTINELS`` ...),
and stops everything on Ctrl-C. The tests use the same classes (``RedisHA``, ``RedisNode``):
each test starts its own servers on free ports and never touches the shared Redis.

TLS: a throwaway CA is made with the ``openssl`` command line; every server and sentinel
presents a certificate for 127.0.0.1/localhost signed by it, requires client certificates
(``tls-auth-clients yes``), replicates over TLS, and listens on no plain-text port at all.
AUTH: ``requirepass`` / ``masterauth`` on the data nodes, a separate ``requirepass`` on the
sentinels (``sentinel sentinel-pass`` lets them talk to each other).
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

SERVICE = "platform"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class Certificates:
    """A CA, a server certificate, a client certificate, and an unrelated CA (for tests)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    @property
    def rogue_ca(self) -> Path:
        return self.directory / "rogue-ca.crt"

    def generate(self) -> "Certificates":
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name, cn in (("ca", "Platform test CA"), ("rogue-ca", "Unrelated CA")):
            _openssl(
                "req", "-x509", *key, "-keyout", f"{name}.key", "-out", f"{name}.crt",
                "-days", "2", "-subj", f"/CN={cn}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=d,
            )  # fmt: skip
        (d / "leaf.ext").write_text(
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        )
        for name in ("server", "client"):
            _openssl(
                "req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN=platform-redis-{name}", cwd=d,
            )  # fmt: skip
            _openssl(
                "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", "leaf.ext",
                cwd=d,
            )  # fmt: skip
        for path in d.glob("*.key"):
            path.chmod(0o600)
        return self


@dataclass
class RedisNode:
    """One redis-server (data node or sentinel) on its own free port under ``directory``."""

    directory: Path
    password: str = ""
    certs: Certificates | None = None
    replica_of: int | None = None
    sentinel_lines: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def is_sentinel(self) -> bool:
        return bool(self.sentinel_lines)

    def config_text(self) -> str:
        lines = ["bind 127.0.0.1", f"dir {self.directory}", "protected-mode no"]
        lines.append(f"logfile {self.directory / 'redis.log'}")
        if self.certs:
            c = self.certs
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {c.server_cert}",
                f"tls-key-file {c.server_key}",
                f"tls-ca-cert-file {c.ca}",
                "tls-auth-clients yes",
                "tls-replication yes",
            ]
        else:
            lines.append(f"port {self.port}")
        if self.password:
            lines.append(f"requirepass {self.password}")
        if self.is_sentinel:
            lines += self.sentinel_lines
        else:
            lines += ['save ""', "appendonly no"]
            if self.password:
                lines.append(f"masterauth {self.password}")
            if self.replica_of:
                lines.append(f"replicaof 127.0.0.1 {self.replica_of}")
        return "\n".join(lines) + "\n"

    def start(self) -> "RedisNode":
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / ("sentinel.conf" if self.is_sentinel else "redis.conf")
        config.write_text(self.config_text())  # sentinels rewrite their file: keep it writable
        command = [shutil.which("redis-server") or "redis-server", str(config)]
        if self.is_sentinel:
            command.append("--sentinel")
        self.process = subprocess.Popen(command, start_new_session=True)
        return self

    def client(self, **overrides) -> redis.Redis:
        kwargs: dict = {"host": "127.0.0.1", "port": self.port, "socket_timeout": 2}
        if self.password:
            kwargs["password"] = self.password
        if self.certs:
            kwargs.update(
                ssl=True,
                ssl_ca_certs=str(self.certs.ca),
                ssl_certfile=str(self.certs.client_cert),
                ssl_keyfile=str(self.certs.client_key),
                ssl_cert_reqs="required",
            )
        kwargs.update(overrides)
        return redis.Redis(**kwargs)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited; see {self.directory}")
            try:
                with self.client(socket_connect_timeout=0.5) as client:
                    client.ping()
                    return
            except redis.RedisError as exc:
                last = exc
                time.sleep(0.05)
        raise TimeoutError(f"redis on {self.port} not ready: {last}")

    def kill(self) -> None:
        """SIGKILL: the abrupt death a failover must survive."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisHA:
    """Primary + replicas + sentinels, all on loopback."""

    def __init__(
        self,
        base: Path,
        *,
        replicas: int = 2,
        sentinels: int = 3,
        tls: bool = True,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        service: str = SERVICE,
    ):
        self.base = Path(base)
        self.service = service
        self.password = secrets.token_hex(16)
        self.sentinel_password = secrets.token_hex(16)
        self.certs = Certificates(self.base / "tls") if tls else None
        self.primary = RedisNode(self.base / "primary", self.password, self.certs)
        self.replicas = [
            RedisNode(self.base / f"replica{i}", self.password, self.certs, self.primary.port)
            for i in range(replicas)
        ]
        quorum = sentinels // 2 + 1
        sentinel_lines = [
            f"sentinel monitor {service} 127.0.0.1 {self.primary.port} {quorum}",
            f"sentinel auth-pass {service} {self.password}",
            f"sentinel down-after-milliseconds {service} {down_after_ms}",
            f"sentinel failover-timeout {service} {failover_timeout_ms}",
            f"sentinel parallel-syncs {service} 1",
            f"sentinel sentinel-pass {self.sentinel_password}",
        ]
        self.sentinels = [
            RedisNode(
                self.base / f"sentinel{i}",
                self.sentinel_password,
                self.certs,
                sentinel_lines=sentinel_lines,
            )
            for i in range(sentinels)
        ]

    @property
    def nodes(self) -> list[RedisNode]:
        return [self.primary, *self.replicas]

    def start(self, timeout: float = 30.0) -> "RedisHA":
        if self.certs:
            self.certs.generate()
        try:
            for node in self.nodes:
                node.start()
            for node in self.nodes:
                node.wait_ready()
            self._wait(self._replicas_synced, timeout, "replicas to sync")
            for sentinel in self.sentinels:
                sentinel.start()
            for sentinel in self.sentinels:
                sentinel.wait_ready()
            if self.sentinels:
                self._wait(self._sentinels_agree, timeout, "sentinels to discover each other")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {what}")

    def _replicas_synced(self) -> bool:
        for replica in self.replicas:
            with replica.client() as client:
                if client.info("replication").get("master_link_status") != "up":
                    return False
        return True

    def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            with sentinel.client() as client:
                master = client.sentinel_master(self.service)
                if int(master["num-slaves"]) < len(self.replicas):
                    return False
                if int(master["num-other-sentinels"]) < len(self.sentinels) - 1:
                    return False
        return True

    def current_primary_port(self) -> int:
        with self.sentinels[0].client() as client:
            return int(client.sentinel_get_master_addr_by_name(self.service)[1])

    def env(self) -> dict[str, str]:
        """The platform's environment for this topology (see cache/config.py)."""
        env = {
            "REDIS_PASSWORD": self.password,
            "REDIS_URL": f"{'rediss' if self.certs else 'redis'}://127.0.0.1:{self.primary.port}/0",
        }
        if self.sentinels:
            env["REDIS_SENTINELS"] = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
            env["REDIS_SENTINEL_SERVICE"] = self.service
            env["REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        if self.certs:
            env["REDIS_CA_CERT"] = str(self.certs.ca)
            env["REDIS_CLIENT_CERT"] = str(self.certs.client_cert)
            env["REDIS_CLIENT_KEY"] = str(self.certs.client_key)
        return env

    def stop(self) -> None:
        for node in [*self.sentinels, *self.replicas, self.primary]:
            node.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the topology and keep it running")
    up.add_argument("--dir", default="")
    up.add_argument("--replicas", type=int, default=2)
    up.add_argument("--sentinels", type=int, default=3)
    up.add_argument("--no-tls", action="store_true")
    args = parser.parse_args()
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="redis-ha-"))
    ha = RedisHA(base, replicas=args.replicas, sentinels=args.sentinels, tls=not args.no_tls)
    ha.start()
    try:
        for name, value in ha.env().items():
            print(f"export {name}={value}", flush=True)
        print(f"# primary :{ha.primary.port}, files under {base}; Ctrl-C stops", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        ha.stop()


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(Path(__file__).resolve().parent.parent))
    sys.exit(main())
