"""Gunicorn settings for the platform (gunicorn reads ./gunicorn.conf.py on its own).

Command-line options still choose workers and the bind address. What this file adds:
X-Forwarded-For/-Proto are believed only from ``AUTHN_TRUSTED_PROXIES`` (gunicorn's and
uvicorn's own default is to believe 127.0.0.1, so any local caller could pick its client
address); and with ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client keeps every worker's
metrics in files in that directory and ``/metrics`` sums them, so a scrape that reaches one
worker reports the whole server. The directory is emptied when the server starts (values
from an earlier run must not be added in), and a worker that exits is marked dead so its live
gauges are dropped while its counters and histograms keep counting in the totals.
"""

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when started elsewhere (-c)

from scripts.devstack import trusted_proxies  # noqa: E402

# Read by the uvicorn workers too (uvicorn_worker passes it on); "" trusts no address.
forwarded_allow_ips = trusted_proxies(os.environ)
# nginx keeps idle connections to gunicorn for up to 60 s (deploy/nginx/platform.conf,
# upstream keepalive): gunicorn must not close one first, or a request nginx sends on it as
# gunicorn closes it fails with a 502.
keepalive = 65


def _multiproc_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server) -> None:
    directory = _multiproc_dir()
    if directory is None:
        return
    if directory.exists():
        for entry in directory.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    directory.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    if _multiproc_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker) -> None:
    # The latency histogram's counts this worker still holds (observability.latency).
    latency = sys.modules.get("observability.latency")
    if latency is not None:
        latency.flush()
