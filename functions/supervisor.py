"""The functions supervisor: owns one warm, sandboxed Deno worker per (project, version) and
answers the platform over a Unix socket.

    python -m functions.supervisor --socket var/functions.sock --state-dir var/functions

(``manage.py functions_supervisor`` runs it with the Django settings' values.) No Django and
no database here: the platform sends what a worker needs (source, env) and reads each
invocation's record back; the supervisor keeps nothing a restart would miss.

Protocol, HTTP over the Unix socket:
- ``POST /check`` ``{"source"}`` -> ``{"ok", "message"}``: ``deno check`` in a fresh sandbox.
- ``PUT /workers/<key>`` ``{"project", "function", "source", "env", "egress", "warm"}``: what
  the worker ``key`` runs. Other keys of the same ``function`` (its earlier versions or
  configurations) are retired: stopped once their invocation in flight, if any, is done.
  ``warm``: start the worker now, so the next invocation finds it ready.
- ``POST /invoke/<key>`` with ``x-fn-*`` headers (project, invocation id, timeout, method,
  path) and the function's request body: the function's status, headers and body, streamed;
  ``428`` when the key is unknown (the platform PUTs it and retries). Failures before the
  function answered come back with ``x-fn-exit`` (``timeout``, ``out_of_memory``,
  ``crashed``, ``startup_failed``, ``concurrency_limit``, ``request_too_large``).
- ``GET /invocations/<id>`` -> the invocation's record (exit reason, status, duration, CPU,
  peak memory, stdout, stderr), kept for a while.
- ``GET /health`` -> workers and whether cgroups are in use.

A worker is ready when the bootstrap says so on stdout (its server listens); its cold start
is bounded by ``start_timeout`` of its own and logged with its duration. Each worker has an
egress proxy of its own on a second socket (``functions.egress``): the platform's client API
as the caller, and the hosts of its outbound allow-list.

Invocations of one worker run one at a time (its output is cut per invocation by the
bootstrap's marks); a project has at most ``--project-concurrency`` invocations in flight,
queued ones included, beyond that ``429``. A worker is stopped after ``--idle-seconds`` without
work, killed (with its whole cgroup) on a timeout, and started again at the next invocation
after a crash.
"""

import argparse
import asyncio
import collections
import contextlib
import hashlib
import ipaddress
import itertools
import json
import logging
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from functions import egress, sandbox

logger = logging.getLogger("functions.supervisor")

# Deno's refusals (its permissions) and the kernel's (EACCES/EPERM in the sandbox).
PERMISSION_ERRORS = {"NotCapable", "PermissionDenied"}
HOP_BY_HOP = {
    "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te",
    "trailer", "proxy-connection", "date", "server",
}  # fmt: skip


@dataclass
class Config:
    state_dir: Path
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    request_bytes: int = 1024 * 1024
    response_bytes: int = 6 * 1024 * 1024
    output_bytes: int = 64 * 1024
    project_concurrency: int = 4
    idle_seconds: float = 300.0
    max_timeout: float = 60.0
    start_timeout: float = 10.0
    check_timeout: float = 30.0
    cgroups: bool = False
    # Where a function's platform.fetch goes (the platform's own HTTP address), and the
    # networks its outbound allow-list may reach besides public addresses.
    platform_url: str | None = None
    egress_networks: tuple = ()


class Output:
    """One of a worker's pipes, cut into invocations at the bootstrap's marks."""

    def __init__(self, cap: int):
        self.cap = cap
        self.current = bytearray()
        self.truncated = False
        self.pending = b""
        self.marker = b""
        self.done = asyncio.Event()

    def begin(self, invocation_id: str) -> None:
        self.current = bytearray()
        self.truncated = False
        self.pending = b""
        self.marker = b"\n\x1e" + invocation_id.encode() + b"\n"
        self.done = asyncio.Event()

    def _append(self, data: bytes) -> None:
        room = self.cap - len(self.current)
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        self.current += data

    def feed(self, chunk: bytes) -> None:
        if not self.marker or self.done.is_set():
            return  # between invocations (or after the mark): nobody's output
        combined = self.pending + chunk
        index = combined.find(self.marker)
        if index >= 0:
            self._append(combined[:index])
            self.pending = b""
            self.done.set()
            return
        keep = len(self.marker) - 1
        self._append(combined[:-keep] if len(combined) > keep else b"")
        self.pending = combined[-keep:] if len(combined) > keep else combined

    def finish(self) -> str:
        if not self.done.is_set():
            self._append(self.pending)
        self.pending = b""
        self.marker = b""
        text = self.current.decode("utf-8", "replace")
        return text + ("\n[output truncated]" if self.truncated else "")


class StartFailed(Exception):
    pass


_worker_numbers = itertools.count(1)


class Worker:
    """One warm Deno in bubblewrap (and its cgroup), serving one function version."""

    def __init__(self, key: str, spec: dict, config: Config):
        self.key, self.spec, self.config = key, spec, config
        self.project = spec["project"]
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        # Unique per instance: a retired worker still stopping never shares a cgroup or a
        # directory with its successor of the same key.
        self.name = f"{digest}-{next(_worker_numbers)}"
        self.dir = config.state_dir / "workers" / digest
        self.lock = asyncio.Lock()
        self.process: asyncio.subprocess.Process | None = None
        self.cgroup: sandbox.Cgroup | None = None
        self.client: httpx.AsyncClient | None = None
        self.stdout = Output(config.output_bytes)
        self.stderr = Output(config.output_bytes)
        self.last_used = time.monotonic()
        self.readers: list[asyncio.Task] = []
        self.starts = 0
        self.retired = False
        self.socket_dir_fd: int | None = None
        self.egress_server: asyncio.AbstractServer | None = None
        self.egress_rules = egress.Rules(
            hosts=egress.allowed_pairs(spec.get("egress") or []),
            networks=config.egress_networks,
            platform_url=config.platform_url,
            max_request_bytes=config.request_bytes,
            max_response_bytes=config.response_bytes,
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        function_dir, socket_dir = self.dir / "function", self.dir / "socket"
        function_dir.mkdir(parents=True)
        socket_dir.mkdir()
        # Socket paths through a descriptor on their directory: a state directory deep in
        # the file system must not exceed AF_UNIX's 108 bytes.
        self.socket_dir_fd = os.open(socket_dir, os.O_RDONLY | os.O_DIRECTORY)
        short_dir = f"/proc/self/fd/{self.socket_dir_fd}"
        (function_dir / "main.ts").write_text(self.spec["source"])
        shutil.copy(sandbox.BOOTSTRAP, function_dir / "bootstrap.js")
        env = dict(self.spec.get("env") or {})
        limits = self.config.limits
        deno_args = sandbox.worker_deno_args(
            env_names=list(env),
            limits=limits,
            cgroups=self.config.cgroups,
            net=tuple(egress.deno_net(self.spec.get("egress") or [])),
        )
        env_fd = _env_fd(self.dir / "env", env)
        cmd = sandbox.bwrap_command(
            function_dir=function_dir,
            socket_dir=socket_dir,
            limits=limits,
            deno_args=deno_args,
            env_fd=env_fd,
        )
        if self.config.cgroups:
            self.cgroup = sandbox.Cgroup(self.name, limits)
            cmd = [*self.cgroup.join_prefix(), *cmd]
        else:
            cmd = [*sandbox.prlimit_prefix(limits), *cmd]
        self.stdout, self.stderr = (
            Output(self.config.output_bytes),
            Output(self.config.output_bytes),
        )
        # The startup's own output (a module that throws at import) is read as invocation
        # "start"; the bootstrap writes that invocation's mark once its server listens.
        self.stdout.begin("start")
        self.stderr.begin("start")
        began = time.monotonic()
        self.egress_server = await asyncio.start_unix_server(
            self._egress, path=f"{short_dir}/egress.sock"
        )
        try:
            self.process = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                env={"PATH": "/usr/bin:/bin"},
                pass_fds=(env_fd,),
            )
        finally:
            os.close(env_fd)
        self.starts += 1
        self.readers = [
            asyncio.create_task(self._read(self.process.stdout, self.stdout)),
            asyncio.create_task(self._read(self.process.stderr, self.stderr)),
        ]
        sock = socket_dir / "sock"
        # Ready or gone, whichever comes first (the caller bounds the wait): no polling.
        ready = asyncio.ensure_future(
            asyncio.gather(self.stdout.done.wait(), self.stderr.done.wait())
        )
        exited = asyncio.ensure_future(self.process.wait())
        try:
            await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            exited.cancel()
        if not self.alive or not sock.exists():
            await asyncio.sleep(0.05)  # let the readers take the last words
            message = self.stderr.finish().strip() or "The worker did not start."
            await self.stop()
            raise StartFailed(message[-4000:])
        self.stdout.finish()
        self.stderr.finish()
        self.client = httpx.AsyncClient(
            # The invocation's deadline is enforced around each call, not by httpx.
            transport=httpx.AsyncHTTPTransport(uds=f"{short_dir}/sock"),
            timeout=httpx.Timeout(None),
        )
        logger.info(
            "worker_started key=%s pid=%s start_ms=%.0f",
            self.key,
            self.process.pid,
            (time.monotonic() - began) * 1000,
        )

    async def _egress(self, reader, writer) -> None:
        await egress.serve_connection(reader, writer, self.egress_rules)

    def state(self) -> str:
        """What a start that did not finish got to (for the log)."""
        if self.process is None:
            return "not started"
        if self.process.returncode is not None:
            return f"exited {self.process.returncode}"
        tail = bytes(self.stderr.current[-300:]).decode("utf-8", "replace")
        return f"running, not listening yet; stderr: {tail!r}"

    async def _read(self, stream: asyncio.StreamReader, output: Output) -> None:
        while chunk := await stream.read(65536):
            output.feed(chunk)

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def cpu_ns(self) -> int:
        if self.cgroup is not None:
            return self.cgroup.cpu_ns()
        return sandbox.tree_cpu_ns(self.process.pid) if self.alive else 0

    def peak_bytes(self) -> int:
        if self.cgroup is not None:
            return self.cgroup.peak_bytes()
        return sandbox.tree_peak_bytes(self.process.pid) if self.alive else 0

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    async def stop(self) -> None:
        if self.egress_server is not None:
            self.egress_server.close()
            self.egress_server = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.aclose()
            self.client = None
        if self.process is not None:
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            if self.cgroup is not None:
                self.cgroup.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.process.wait(), 5)
            for reader in self.readers:
                reader.cancel()
            self.readers = []
        if self.socket_dir_fd is not None:
            os.close(self.socket_dir_fd)
            self.socket_dir_fd = None
        if self.cgroup is not None:
            for _ in range(50):
                if not self.cgroup.pids():
                    break
                self.cgroup.kill()
                await asyncio.sleep(0.02)
            self.cgroup.remove()
            self.cgroup = None
        self.process = None


class Supervisor:
    def __init__(self, config: Config):
        self.config = config
        self.specs: dict[str, dict] = {}
        self.workers: dict[str, Worker] = {}
        self.inflight: collections.Counter = collections.Counter()
        self.records: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self.reaper: asyncio.Task | None = None
        self.background: set[asyncio.Task] = set()
        self.checked: collections.OrderedDict[str, dict] = collections.OrderedDict()

    # --- ASGI ----------------------------------------------------------------------------
    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        try:
            if path == "/health" and method == "GET":
                await self._json(send, 200, self.health())
            elif path == "/check" and method == "POST":
                body = json.loads(await self._body(receive, 4 * self.config.request_bytes))
                await self._json(send, 200, await self.check(body["source"]))
            elif path.startswith("/workers/") and method == "PUT":
                body = json.loads(await self._body(receive, 8 * self.config.request_bytes))
                self.put(path.removeprefix("/workers/"), body)
                await self._json(send, 204, None)
            elif path.startswith("/invocations/") and method == "GET":
                record = self.records.get(path.removeprefix("/invocations/"))
                await self._json(send, 200 if record else 404, record or {"error": "unknown"})
            elif path.startswith("/invoke/") and method == "POST":
                await self.invoke(path.removeprefix("/invoke/"), scope, receive, send)
            else:
                await self._json(send, 404, {"error": "no such route"})
        except (ValueError, KeyError) as exc:
            await self._json(send, 400, {"error": f"bad request: {exc}"})

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.reaper = asyncio.create_task(self._reap())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.reaper:
                    self.reaper.cancel()
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _body(self, receive, cap: int) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _json(self, send, status: int, payload, headers: dict | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        head = [(b"content-type", b"application/json")]
        head += [(k.encode(), str(v).encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})

    # --- work ----------------------------------------------------------------------------
    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def put(self, key: str, spec: dict) -> None:
        egress.allowed_pairs(spec.get("egress") or [])  # a bad entry is a 400, not a crash
        function = spec.get("function")
        if function:
            # A new version or configuration of a function replaces the earlier ones: their
            # workers would otherwise idle on, one per deploy.
            for other, other_spec in list(self.specs.items()):
                if other != key and other_spec.get("function") == function:
                    del self.specs[other]
                    self._spawn(self._retire(other))
        self.specs[key] = spec
        if spec.get("warm"):
            self._spawn(self._warm(key))

    def _worker(self, key: str, spec: dict) -> Worker:
        worker = self.workers.get(key)
        if worker is None:
            worker = self.workers[key] = Worker(key, spec, self.config)
        return worker

    async def _retire(self, key: str) -> None:
        worker = self.workers.pop(key, None)
        if worker is None:
            return
        worker.retired = True
        async with worker.lock:  # after its invocation in flight, if any
            await worker.stop()
        logger.info("worker_retired key=%s", key)

    async def _warm(self, key: str) -> None:
        spec = self.specs.get(key)
        if spec is None:
            return
        worker = self._worker(key, spec)
        async with worker.lock:
            if worker.retired or worker.alive:
                return
            try:
                await asyncio.wait_for(worker.start(), self.config.start_timeout)
            except (StartFailed, TimeoutError) as exc:
                # The invocation that comes will start it again and report what fails.
                logger.warning("worker_warm_failed key=%s %s", key, str(exc)[:300])
                await worker.stop()
            worker.last_used = time.monotonic()

    def health(self) -> dict:
        return {
            "cgroups": self.config.cgroups,
            "workers": [
                {"key": w.key, "pid": w.pid(), "alive": w.alive, "starts": w.starts}
                for w in self.workers.values()
            ],
        }

    async def check(self, source: str) -> dict:
        """``deno check`` in a sandbox of its own (no socket, no env, killed on a timeout).

        A module without imports checks the same every time: the verdict is kept by content
        (a redeploy, or the same source in another project, costs no second compiler run)."""
        digest = hashlib.sha256(source.encode()).hexdigest()
        if (verdict := self.checked.get(digest)) is not None:
            self.checked.move_to_end(digest)
            return verdict
        verdict = await self._check(source)
        if not verdict.get("timed_out"):
            self.checked[digest] = verdict
            while len(self.checked) > 512:
                self.checked.popitem(last=False)
        return verdict

    async def _check(self, source: str) -> dict:
        with tempfile.TemporaryDirectory(dir=self.config.state_dir, prefix="check-") as tmp:
            function_dir = Path(tmp)
            (function_dir / "main.ts").write_text(source)
            shutil.copy(sandbox.GLOBALS_DECLARATION, function_dir / "platform.d.ts")
            limits = sandbox.Limits(memory_mb=1024, pids=128, cpu_fraction=1.0, tmp_mb=64)
            env_fd = _env_fd(function_dir / "env", {})
            cmd = sandbox.bwrap_command(
                function_dir=function_dir,
                socket_dir=None,
                limits=limits,
                deno_args=sandbox.check_deno_args(),
                env_fd=env_fd,
            )
            try:
                process = await asyncio.create_subprocess_exec(
                    *cmd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                    env={"PATH": "/usr/bin:/bin"},
                    pass_fds=(env_fd,),
                )
            finally:
                os.close(env_fd)
            try:
                out, _ = await asyncio.wait_for(process.communicate(), self.config.check_timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
                return {
                    "ok": False,
                    "message": "deno check did not finish in time.",
                    "timed_out": True,
                }
        text = out.decode("utf-8", "replace").replace("file:///function/", "")
        lines = [line for line in text.splitlines() if not line.startswith("Check ")]
        return {"ok": process.returncode == 0, "message": "\n".join(lines).strip()[-8000:]}

    def _record(self, invocation_id: str, record: dict) -> dict:
        self.records[invocation_id] = record
        while len(self.records) > 2000:
            self.records.popitem(last=False)
        return record

    async def invoke(self, key: str, scope, receive, send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        invocation_id = headers.get("x-fn-invocation", "")
        started = time.monotonic()
        spec = self.specs.get(key)

        async def fail(status: int, exit_reason: str, message: str, **extra) -> None:
            record = {
                "exit_reason": exit_reason,
                "status": status,
                "duration_ms": (time.monotonic() - started) * 1000,
                "cpu_ms": None,
                "peak_memory_bytes": None,
                "stdout": "",
                "stderr": message,
                **extra,
            }
            self._record(invocation_id, record)
            await self._json(
                send, status, {"error": exit_reason, "message": message}, {"x-fn-exit": exit_reason}
            )

        if spec is None:
            await self._json(send, 428, {"error": "unknown worker"})
            return
        project = spec["project"]
        if self.inflight[project] >= self.config.project_concurrency:
            await fail(429, "concurrency_limit", "Too many invocations of this project at once.")
            return
        self.inflight[project] += 1
        try:
            try:
                body = await self._body(receive, self.config.request_bytes)
            except TooLarge:
                await fail(413, "request_too_large", "The request body is too large.")
                return
            timeout = min(float(headers.get("x-fn-timeout") or 10), self.config.max_timeout)
            while True:
                worker = self._worker(key, spec)
                async with worker.lock:
                    if worker.retired:
                        continue  # stopped while this one waited: take (or make) the current
                    await self._run(
                        worker, invocation_id, timeout, headers, body, started, send, fail
                    )
                    return
        finally:
            self.inflight[project] -= 1
            if self.inflight[project] <= 0:
                del self.inflight[project]

    async def _run(self, worker, invocation_id, timeout, headers, body, started, send, fail):
        if not worker.alive:
            # A cold start is the platform's cost, bounded on its own: the function's wall
            # clock starts once its worker is ready.
            try:
                await asyncio.wait_for(worker.start(), self.config.start_timeout)
            except StartFailed as exc:
                await fail(502, "startup_failed", str(exc))
                return
            except TimeoutError:
                logger.warning(
                    "worker_start_timeout key=%s after=%.1fs state=%s",
                    worker.key,
                    self.config.start_timeout,
                    worker.state(),
                )
                await worker.stop()
                await fail(504, "timeout", "The function did not start in time.")
                return
        deadline = time.monotonic() + timeout
        worker.last_used = time.monotonic()
        if worker.cgroup is not None:
            worker.cgroup.reset_peak()
        cpu_before, oom_before = worker.cpu_ns(), worker.oom_kills()
        worker.stdout.begin(invocation_id)
        worker.stderr.begin(invocation_id)
        forwarded = {
            k: v for k, v in headers.items() if not k.startswith("x-fn-") and k not in HOP_BY_HOP
        }
        forwarded["x-fn-invocation"] = invocation_id
        path = headers.get("x-fn-path") or "/"
        request = worker.client.build_request(
            headers.get("x-fn-method") or "POST",
            f"http://function{path}",
            headers=forwarded,
            content=body,
        )
        exit_reason, status, sent_head, size = "ok", None, False, 0
        response = None
        try:
            response = await asyncio.wait_for(
                worker.client.send(request, stream=True), max(deadline - time.monotonic(), 0.01)
            )
            status = response.status_code
            if error := response.headers.get("x-fn-error"):
                exit_reason = (
                    "permission_denied"
                    if error in PERMISSION_ERRORS
                    else "out_of_memory"
                    if error == "OutOfMemory"
                    else "error"
                )
            head = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.multi_items()
                if k.lower() not in HOP_BY_HOP and k.lower() != "x-fn-error"
            ]
            head.append((b"x-fn-exit", exit_reason.encode()))
            await send({"type": "http.response.start", "status": status, "headers": head})
            sent_head = True
            chunks = response.aiter_raw()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    chunk = await asyncio.wait_for(chunks.__anext__(), remaining)
                except StopAsyncIteration:
                    break
                size += len(chunk)
                if size > self.config.response_bytes:
                    exit_reason = "response_too_large"
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except TimeoutError:
            exit_reason = "timeout"
        except (httpx.TransportError, OSError):
            exit_reason = "crashed"
        finally:
            if response is not None:
                with contextlib.suppress(Exception):
                    await response.aclose()
        if exit_reason in ("timeout", "crashed", "response_too_large"):
            await asyncio.sleep(0.05)  # the pipes' last words before the kill
            stopped_by_oom = worker.oom_kills() > oom_before
            last_words = bytes(worker.stderr.current).decode("utf-8", "replace").lower()
            if exit_reason == "crashed" and (stopped_by_oom or "out of memory" in last_words):
                exit_reason = "out_of_memory"
            cpu_after, peak = worker.cpu_ns(), worker.peak_bytes()
            await worker.stop()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(worker.stdout.done.wait(), worker.stderr.done.wait()), 1.0
                )
            cpu_after, peak = worker.cpu_ns(), worker.peak_bytes()
        record = {
            "exit_reason": exit_reason,
            "status": status,
            "duration_ms": (time.monotonic() - started) * 1000,
            "cpu_ms": max(cpu_after - cpu_before, 0) / 1e6,
            "peak_memory_bytes": peak or None,
            "stdout": worker.stdout.finish(),
            "stderr": worker.stderr.finish(),
            "response_bytes": size,
        }
        worker.last_used = time.monotonic()
        if sent_head:
            self._record(invocation_id, record)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        messages = {
            "timeout": (504, f"The function did not answer within {timeout:g} s."),
            "out_of_memory": (502, "The function ran out of memory and was stopped."),
            "crashed": (502, "The function's worker stopped before answering."),
        }
        code, message = messages.get(exit_reason, (502, exit_reason))
        record["status"] = code
        self._record(invocation_id, record)
        await self._json(
            send, code, {"error": exit_reason, "message": message}, {"x-fn-exit": exit_reason}
        )

    async def _reap(self) -> None:
        interval = max(min(self.config.idle_seconds / 4, 5.0), 0.2)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for key, worker in list(self.workers.items()):
                idle = now - worker.last_used > self.config.idle_seconds
                if idle and not worker.lock.locked():
                    logger.info("worker_idle_stop key=%s", key)
                    # Out of the table first: an invocation arriving meanwhile makes a new
                    # worker rather than starting this one again while it is being stopped.
                    self.workers.pop(key, None)
                    worker.retired = True
                    async with worker.lock:
                        await worker.stop()

    async def shutdown(self) -> None:
        for task in list(self.background):
            task.cancel()
        for worker in list(self.workers.values()):
            await worker.stop()
        self.workers.clear()
        await egress.close_http_client()


class TooLarge(Exception):
    pass


def _env_fd(path: Path, env: dict[str, str]) -> int:
    """A descriptor on the sandbox's ``--setenv`` arguments; the file is gone once open."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.unlink(path)
    os.write(fd, sandbox.env_args(env))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run tenants' functions in sandboxed workers.")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--memory-mb", type=int, default=128)
    parser.add_argument("--pids", type=int, default=64)
    parser.add_argument("--cpu-fraction", type=float, default=0.5)
    parser.add_argument("--request-bytes", type=int, default=1024 * 1024)
    parser.add_argument("--response-bytes", type=int, default=6 * 1024 * 1024)
    parser.add_argument("--output-bytes", type=int, default=64 * 1024)
    parser.add_argument("--project-concurrency", type=int, default=4)
    parser.add_argument("--idle-seconds", type=float, default=300.0)
    parser.add_argument("--max-timeout", type=float, default=60.0)
    parser.add_argument("--cgroups", choices=["auto", "on", "off"], default="auto")
    parser.add_argument(
        "--platform-url", default=None, help="the platform's HTTP address for platform.fetch"
    )
    parser.add_argument(
        "--egress-allowed-networks",
        default="",
        help="CIDRs (comma-separated) allow-listed hosts may resolve to besides public ones",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if not shutil.which("bwrap"):
        raise SystemExit("bubblewrap (bwrap) is not installed: make system-deps installs it.")
    if not sandbox.deno_path().exists():
        raise SystemExit(f"Deno not found at {sandbox.deno_path()}: make install runs npm ci.")
    use_cgroups = args.cgroups == "on" or (args.cgroups == "auto" and sandbox.cgroups_writable())
    if use_cgroups:
        sandbox.prepare_parent()
    if not use_cgroups:
        logger.warning(
            "cgroups not writable (or turned off): workers are limited by prlimit and V8's heap"
            " limit only, with no CPU quota"
        )
    config = Config(
        state_dir=state_dir,
        limits=sandbox.Limits(
            memory_mb=args.memory_mb, pids=args.pids, cpu_fraction=args.cpu_fraction
        ),
        request_bytes=args.request_bytes,
        response_bytes=args.response_bytes,
        output_bytes=args.output_bytes,
        project_concurrency=args.project_concurrency,
        idle_seconds=args.idle_seconds,
        max_timeout=args.max_timeout,
        cgroups=use_cgroups,
        platform_url=args.platform_url,
        egress_networks=tuple(
            ipaddress.ip_network(cidr.strip(), strict=False)
            for cidr in args.egress_allowed_networks.split(",")
            if cidr.strip()
        ),
    )
    sock = Path(args.socket)
    sock.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    server = uvicorn.Server(
        uvicorn.Config(
            Supervisor(config),
            uds=str(sock),
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )  # fmt: skip
    )
    os.umask(0o077)  # the socket: the platform's user only
    server.run()


if __name__ == "__main__":
    main()
