"""The OS sandbox around a function's Deno: bubblewrap's command line and a cgroup per worker.

No Django here: the supervisor imports this module and runs on its own.

Layers, outside in:
1. a cgroup v1 per worker (memory, pids, CPU quota) when ``/sys/fs/cgroup`` is writable;
   otherwise ``prlimit`` (open files, processes) and V8's heap limit, and a warning in the log;
2. bubblewrap: ``--unshare-all`` (no network but a down loopback, own pid, ipc, uts, user
   namespaces), ``--die-with-parent``, ``--clearenv`` then the function's variables only (read
   by bubblewrap from a file descriptor, never on a command line ``ps`` shows); the only host
   paths are Deno's binary,
   the shared libraries it links (read-only), the function's directory (read-only) and its
   socket directory; ``/tmp`` is a private tmpfs;
3. Deno's permissions: net only to the worker's own sockets (its server and the supervisor's
   egress proxy, ``functions.egress``) and the hosts of its outbound allow-list, read/write
   only in ``/tmp``, env only the function's own variable names, no run, no ffi.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
GROUP_PARENT = "platform-functions"

SOCKET_INSIDE = "/run/worker/sock"
EGRESS_INSIDE = "/run/worker/egress.sock"
TMP_INSIDE = "/tmp"  # noqa: S108 (the sandbox's own tmpfs, not the host's /tmp)
FUNCTION_DIR_INSIDE = "/function"
DENO_INSIDE = "/opt/deno/deno"
BOOTSTRAP = Path(__file__).resolve().parent / "runtime" / "bootstrap.js"
# The bootstrap's globals (``platform``) declared for ``deno check``.
GLOBALS_DECLARATION = Path(__file__).resolve().parent / "runtime" / "platform.d.ts"
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
DENO_PATH = RUNTIME_DIR / "node_modules" / "@deno" / "linux-x64-glibc" / "deno"


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 128
    pids: int = 64  # Deno's own threads count: it runs about 15
    cpu_fraction: float = 0.5  # of one core, per worker
    tmp_mb: int = 16


def deno_path() -> Path:
    return Path(os.environ.get("FUNCTIONS_DENO") or DENO_PATH)


def _shared_libraries(binary: Path) -> list[str]:
    """The libraries ``binary`` links, so the sandbox binds only them, not all of /usr."""
    ldd = shutil.which("ldd") or "/usr/bin/ldd"
    out = subprocess.run([ldd, str(binary)], capture_output=True, text=True, check=True).stdout  # noqa: S603
    paths = []
    for line in out.splitlines():
        parts = line.split()
        candidate = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if candidate.startswith("/"):
            paths.append(candidate)
    return paths


_LIBS: list[str] | None = None


def _library_binds(binary: Path) -> list[str]:
    global _LIBS
    if _LIBS is None:
        _LIBS = _shared_libraries(binary)
    args = []
    for lib in _LIBS:
        real = os.path.realpath(lib)
        args += ["--ro-bind", real, real]
        if real != lib:
            args += ["--symlink", real, lib]
    return args


def env_args(env: dict[str, str]) -> bytes:
    """bubblewrap's ``--setenv`` pairs for the function's variables and Deno's own, NUL-separated
    for ``--args FD``: values stay out of every process's argv."""
    full = {"DENO_DIR": f"{TMP_INSIDE}/.deno", "HOME": TMP_INSIDE, "NO_COLOR": "1", **env}
    parts = []
    for name, value in full.items():
        parts += ["--setenv", name, value]
    return b"".join(part.encode() + b"\0" for part in parts)


def bwrap_command(
    *,
    function_dir: Path,
    socket_dir: Path | None,
    limits: Limits,
    deno_args: list[str],
    env_fd: int,
) -> list[str]:
    """``env_fd``: a readable descriptor holding ``env_args`` (inherited by bubblewrap)."""
    binary = deno_path()
    bwrap = shutil.which("bwrap") or "bwrap"
    cmd = [
        bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
        "--args", str(env_fd),
        *_library_binds(binary),
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", TMP_INSIDE,
        "--ro-bind", str(binary), DENO_INSIDE,
        "--ro-bind", str(function_dir), FUNCTION_DIR_INSIDE,
    ]  # fmt: skip
    if socket_dir is not None:
        cmd += ["--bind", str(socket_dir), os.path.dirname(SOCKET_INSIDE)]
    cmd += ["--chdir", TMP_INSIDE]
    return [*cmd, DENO_INSIDE, *deno_args]


def worker_deno_args(
    *, env_names: list[str], limits: Limits, cgroups: bool, net: tuple[str, ...] = ()
) -> list[str]:
    """``net``: the ``host:port`` pairs of the outbound allow-list (``egress.deno_net``)."""
    sockets = f"{SOCKET_INSIDE},{EGRESS_INSIDE}"
    allow_net = [f"unix:{SOCKET_INSIDE}", f"unix:{EGRESS_INSIDE}", "platform.internal", *net]
    args = [
        "run", "--no-prompt", "--no-remote", "--no-npm", "--no-config", "--no-lock",
        "--allow-net=" + ",".join(allow_net),
        f"--allow-read={TMP_INSIDE},{sockets}",
        f"--allow-write={TMP_INSIDE},{sockets}",
    ]  # fmt: skip
    if env_names:
        args.append("--allow-env=" + ",".join(sorted(env_names)))
    if not cgroups:
        # Without a memory cgroup V8's heap limit is the only memory cap (it ends in a fatal
        # error rather than a clean refusal, which the supervisor reports as out of memory).
        args.append(f"--v8-flags=--max-old-space-size={max(limits.memory_mb - 32, 32)}")
    return [*args, f"{FUNCTION_DIR_INSIDE}/bootstrap.js"]


def check_deno_args() -> list[str]:
    """Checks ``main.ts`` with the bootstrap's globals declared (one program, two roots)."""
    return [
        "check", "--no-remote", "--no-npm", "--no-config", "--no-lock",
        f"{FUNCTION_DIR_INSIDE}/{GLOBALS_DECLARATION.name}", f"{FUNCTION_DIR_INSIDE}/main.ts",
    ]  # fmt: skip


# Deno reserves about 600 MiB of writable address space before it runs a line of code.
FALLBACK_DATA_BASE_MB = 640


def prlimit_prefix(limits: Limits) -> list[str]:
    """The fallback when cgroups are not writable: per-process limits that hold for Deno.

    RLIMIT_DATA caps writable private memory (ArrayBuffers included, which V8's heap limit
    does not count) at the function's memory plus Deno's own reservations: looser than a
    cgroup's limit, but a gibibyte allocation still ends as out of memory.
    """
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return []
    data = (limits.memory_mb + FALLBACK_DATA_BASE_MB) * 1024 * 1024
    return [
        prlimit, f"--data={data}", "--nofile=256", f"--nproc={limits.pids * 4}", "--core=0", "--",
    ]  # fmt: skip


def cgroups_writable(root: Path = CGROUP_ROOT) -> bool:
    """True when a worker can get a memory, pids and cpu cgroup of its own (v1)."""
    probe = f"{GROUP_PARENT}-probe-{os.getpid()}"
    made = []
    try:
        for controller in CONTROLLERS:
            path = root / controller / probe
            path.mkdir()
            made.append(path)
        (root / "memory" / probe / "memory.limit_in_bytes").write_text(str(64 * 1024 * 1024))
        (root / "pids" / probe / "pids.max").write_text("16")
        return True
    except OSError:
        return False
    finally:
        for path in reversed(made):
            try:
                path.rmdir()
            except OSError:
                pass


# The weight of all workers together against the host's other processes. cgroup v1 gives a
# group the weight of one task (1024) by default, so under load every worker's start and run
# shared one task's slice, however many ran (cold starts of 0.4-1.2 s at a load average of
# 15 on two CPUs, 0.15-0.35 s with this weight); each worker's own CPU quota stays the limit.
PARENT_CPU_SHARES_PER_CPU = 8 * 1024


def prepare_parent(root: Path = CGROUP_ROOT) -> None:
    """The workers' parent cgroups, with their CPU weight (``PARENT_CPU_SHARES_PER_CPU``)."""
    for controller in CONTROLLERS:
        (root / controller / GROUP_PARENT).mkdir(parents=True, exist_ok=True)
    shares = PARENT_CPU_SHARES_PER_CPU * (os.cpu_count() or 1)
    (root / "cpu" / GROUP_PARENT / "cpu.shares").write_text(str(shares))


class Cgroup:
    """One worker's cgroups: memory, pids, cpu quota, cpu accounting."""

    def __init__(self, name: str, limits: Limits, root: Path = CGROUP_ROOT):
        self.paths = {c: root / c / GROUP_PARENT / name for c in CONTROLLERS}
        for path in self.paths.values():
            path.mkdir(parents=True, exist_ok=True)
        memory = self.paths["memory"]
        limit = str(limits.memory_mb * 1024 * 1024)
        (memory / "memory.limit_in_bytes").write_text(limit)
        swap = memory / "memory.memsw.limit_in_bytes"
        if swap.exists():
            try:
                swap.write_text(limit)  # no swapping past the limit
            except OSError:
                pass
        (self.paths["pids"] / "pids.max").write_text(str(limits.pids))
        period = 100_000
        (self.paths["cpu"] / "cpu.cfs_period_us").write_text(str(period))
        (self.paths["cpu"] / "cpu.cfs_quota_us").write_text(str(int(period * limits.cpu_fraction)))

    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.paths.values()]

    def join_prefix(self) -> list[str]:
        """A shell that moves itself into the cgroups, then execs the command: every process
        the worker starts is born inside them."""
        writes = "; ".join(f"echo $$ > {f}" for f in self.procs_files())
        return ["/bin/sh", "-c", f'{writes}; exec "$@"', "sh"]

    def _read(self, controller: str, name: str) -> int:
        try:
            return int((self.paths[controller] / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def cpu_ns(self) -> int:
        return self._read("cpuacct", "cpuacct.usage")

    def peak_bytes(self) -> int:
        return self._read("memory", "memory.max_usage_in_bytes")

    def reset_peak(self) -> None:
        try:
            (self.paths["memory"] / "memory.max_usage_in_bytes").write_text("0")
        except OSError:
            pass

    def oom_kills(self) -> int:
        try:
            for line in (self.paths["memory"] / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except OSError:
            pass
        return self._read("memory", "memory.failcnt")

    def pids(self) -> list[int]:
        found = set()
        for controller in ("memory", "pids"):
            try:
                text = (self.paths[controller] / "cgroup.procs").read_text()
            except OSError:
                continue
            found.update(int(p) for p in text.split())
        return sorted(found)

    def kill(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass

    def remove(self) -> None:
        for path in self.paths.values():
            try:
                path.rmdir()
            except OSError:
                pass


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the fallback's accounting without cgroups)."""
    tree, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            tree.append(child)
            frontier.append(child)
    return tree


def tree_cpu_ns(pid: int) -> int:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total * 1_000_000_000 // ticks


def tree_peak_bytes(pid: int) -> int:
    peak = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            continue
    return peak
