"""Read replicas: which database a request reads from, and the replica lag that decides it.

With ``DATABASE_REPLICA_HOST`` set, ``DATABASES["replica"]`` is a hot standby (streaming
replication) reached as the same app role, so the same row-level security policies apply there:
it is a physical copy of the primary, policies, grants and all. A request reads from it only when
every one of these holds (``choose``):

- it is a GET or HEAD of a view marked ``lag_tolerant`` (client data lists and gets, developer
  data lists and gets, Studio browsing pages);
- its caller (end user, API key or developer: ``caller_identity``) has not written within
  ``DATABASE_REPLICA_STICKY_SECONDS`` (a Redis key set by every write request of that caller,
  so every app instance sees it; Redis unavailable means "maybe wrote": the primary);
- the replica's lag is under ``DATABASE_REPLICA_MAX_LAG_SECONDS`` (measured on the replica
  itself, at most once a second per process, ``replica_status``);
- the replica answers.

Otherwise the primary. None of this asks the primary, so while the primary is down the reads
that qualify keep answering from the replica.

A request routed to the replica runs in one transaction there, with its tenant context set
there (``tenants.middleware``); ``ReplicaRouter`` sends its ORM reads to the replica and every
write to the primary. A write such a request makes anyway (a touch, an audit row) opens a
transaction on the primary at its first statement, with the same tenant context
(``PrimaryOnDemand``), committed or rolled back with the request: opening it eagerly would need
the primary for every replica read.

Before the route is known, authentication loads keys and users into ``cache.entities``; for a
GET/HEAD such a load that finds the primary unreachable runs again on the replica
(``load_for_read``), so a process with cold copies still answers reads while the primary is
down.
"""

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from psycopg import pq

from cache.breaker import RedisUnavailable, redis_call
from cache.client import get_redis

logger = structlog.get_logger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
FALLBACK = "replica-fallback"  # read_alias() says REPLICA; tenant_context opens there too
READ_METHODS = ("GET", "HEAD")
STICKY_KEY = "platform:replica:sticky:{}"
MEASURE_EVERY = 1.0  # seconds between two lag measurements in one process
DOWN_RETRY_EVERY = 10.0  # an unreachable replica is asked again after this (its probe waits)

_read_alias: ContextVar[str | None] = ContextVar("replica_read_alias", default=None)
# A GET/HEAD request (set by cache.entities.RequestScope): its entity loads may use the replica
# while the primary is unreachable (``load_for_read``).
_read_request: ContextVar[bool] = ContextVar("replica_read_request", default=False)
PRIMARY_DOWN_SECONDS = 5.0  # after the primary was found unreachable, loads skip it this long
_primary_down_until = 0.0


def configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """Where the ORM's reads go now: the replica inside a request routed there (or an entity
    load falling back to it), else the primary."""
    alias = _read_alias.get() or PRIMARY
    return REPLICA if alias == FALLBACK else alias


@contextmanager
def reading_from(alias: str):
    """ORM reads of the block go to ``alias`` (``tenants.context.tenant_context`` reads where
    it sets its context)."""
    token = _read_alias.set(alias)
    try:
        yield
    finally:
        _read_alias.reset(token)


def context_alias() -> str:
    """Where ``tenants.context.tenant_context`` opens its block by default: the primary, or the
    replica for an entity load falling back to it (``load_for_read``)."""
    return REPLICA if _read_alias.get() == FALLBACK else PRIMARY


def lag_tolerant(view):
    """Mark a view (function or class) whose GET/HEAD may read from the replica."""
    view.replica_reads = True
    return view


def _view_tolerates_lag(view_func) -> bool:
    for candidate in (
        view_func,
        getattr(view_func, "cls", None),  # DRF's as_view()
        getattr(view_func, "view_class", None),  # Django's as_view()
    ):
        if getattr(candidate, "replica_reads", False):
            return True
    return False


# --- stickiness: a caller's reads follow its own writes ------------------------------------------
def caller_identity(request) -> str | None:
    """Who wrote: the end user, else the API key (anon or secret), else the developer."""
    client = getattr(request, "client", None)
    if client is not None:
        if client.end_user_id is not None:
            return f"end_user:{client.end_user_id}"
        key = getattr(client, "key", None)
        return f"key:{key.pk}" if key is not None else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def mark_write(request, response) -> None:
    """After a write request: its caller reads from the primary for the sticky window (not
    after a 5xx, which wrote nothing)."""
    if not configured() or request.method in (*READ_METHODS, "OPTIONS"):
        return
    if response.status_code >= 500:
        return
    identity = caller_identity(request)
    if identity is None:
        return
    seconds = max(1, round(settings.DATABASE_REPLICA_STICKY_SECONDS))
    try:
        redis_call(get_redis().set, STICKY_KEY.format(identity), "1", ex=seconds)
    except RedisUnavailable as exc:
        # Its next reads find Redis unavailable too, and go to the primary.
        logger.warning("replica_sticky_write_failed", error=str(exc)[:200])


def _sticky(identity: str | None) -> bool:
    if identity is None:
        return False
    try:
        return bool(redis_call(get_redis().exists, STICKY_KEY.format(identity)))
    except RedisUnavailable:
        return True


# --- lag ------------------------------------------------------------------------------------------
# Zero when everything received is replayed; else how old the last replayed commit is. A
# promoted standby (not in recovery) has no lag.
LAG_SQL = (
    "SELECT pg_is_in_recovery(), CASE"
    " WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)


@dataclass(frozen=True)
class ReplicaStatus:
    """``state``: ``ok``, ``lagging`` (above the max lag: reads go to the primary), ``down``
    (unreachable) or ``not_configured``."""

    state: str
    lag_seconds: float | None
    max_lag_seconds: float
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state == "ok"

    def as_dict(self) -> dict:
        return asdict(self)


_lock = threading.Lock()
_last: tuple[float, ReplicaStatus] | None = None


def measure() -> ReplicaStatus:
    """The replica's lag now (one query on the replica)."""
    max_lag = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    if not configured():
        return ReplicaStatus("not_configured", None, max_lag)
    connection = connections[REPLICA]
    try:
        if connection.in_atomic_block:
            # Inside a transaction now() is its start: read a fresh clock.
            sql = LAG_SQL.replace("now()", "clock_timestamp()")
        else:
            sql = LAG_SQL
        with connection.cursor() as cursor:
            cursor.execute(sql)
            in_recovery, lag = cursor.fetchone()
    except DatabaseError as exc:
        return ReplicaStatus("down", None, max_lag, f"{type(exc).__name__}: {exc}"[:300])
    lag = 0.0 if not in_recovery else (None if lag is None else max(float(lag), 0.0))
    if lag is None or lag > max_lag:
        return ReplicaStatus("lagging", lag, max_lag, "reads go to the primary")
    return ReplicaStatus("ok", lag, max_lag)


def replica_status(*, fresh: bool = False) -> ReplicaStatus:
    """The last measurement of this process, taken again when older than a second (ten when
    the replica was unreachable: each probe of it may wait for the pool's timeout)."""
    global _last
    with _lock:
        now = time.monotonic()
        every = (
            DOWN_RETRY_EVERY if _last is not None and _last[1].state == "down" else MEASURE_EVERY
        )
        if fresh or _last is None or now - _last[0] >= every:
            _last = (now, measure())
        return _last[1]


def reset() -> None:
    """Forget the last measurement (tests, a changed setting)."""
    global _last
    with _lock:
        _last = None


# --- the decision ---------------------------------------------------------------------------------
def choose(request, view_func) -> str:
    """The database the request's reads go to (``PRIMARY`` or ``REPLICA``)."""
    if not configured() or request.method not in READ_METHODS:
        return PRIMARY
    if not _view_tolerates_lag(view_func):
        return PRIMARY
    if _sticky(caller_identity(request)):
        return PRIMARY
    return REPLICA if replica_status().usable else PRIMARY


@contextmanager
def read_request(method: str):
    """The request's method decides whether its entity loads may fall back to the replica."""
    token = _read_request.set(configured() and method in READ_METHODS)
    try:
        yield
    finally:
        _read_request.reset(token)


def primary_known_down() -> bool:
    return time.monotonic() < _primary_down_until


def _note_primary_down() -> None:
    global _primary_down_until
    _primary_down_until = time.monotonic() + PRIMARY_DOWN_SECONDS


@contextmanager
def unless_primary_down():
    """Run a best-effort primary write of a read request (bookkeeping): an unreachable primary
    skips it, and is remembered for ``PRIMARY_DOWN_SECONDS``; outside GET/HEAD it raises."""
    try:
        yield
    except DatabaseError as exc:
        from platform_site.errors import database_unavailable

        if not (_read_request.get() and database_unavailable(exc)):
            raise
        _note_primary_down()


def load_for_read(load):
    """``(load(), kept)``: a load of ``cache.entities`` (an API key, a user) for a GET/HEAD
    that finds the primary unreachable runs again on the replica (``kept`` False: a value
    from the replica is used, never kept). For a few seconds after, such loads go to the
    replica straight away rather than each waiting for the primary's pool timeout."""
    if not _read_request.get() or _read_alias.get() is not None:
        return load(), True
    if not primary_known_down():
        try:
            return load(), True
        except DatabaseError as exc:
            from platform_site.errors import database_unavailable

            if not database_unavailable(exc):
                raise
            _note_primary_down()
    token = _read_alias.set(FALLBACK)
    try:
        return load(), False
    finally:
        _read_alias.reset(token)


class PrimaryOnDemand:
    """For a request routed to the replica: the primary's transaction, opened by the first
    statement that reaches the primary, with the request's tenant context set in it first.

    Installed as an execute wrapper of the primary's connection for the request. A statement
    that begins a transaction (the connection idle, in autocommit or at the start of a
    caller's own ``atomic``) gets the request's context before it, so a write made outside
    ``tenant_context`` acts for the request as it would on the primary-only path.
    """

    def __init__(self, context):
        self.context = context
        self.atomic = None
        self._busy = False
        self._installed = None

    def install(self) -> "PrimaryOnDemand":
        self._installed = connections[PRIMARY].execute_wrapper(self)
        self._installed.__enter__()
        # Set, not reset by token: under ASGI the middleware's two halves may run in
        # different contexts (asgiref copies them across threads).
        _read_alias.set(REPLICA)
        return self

    def __call__(self, execute, sql, params, many, context):
        if not self._busy:
            self._busy = True
            try:
                self._begin(context["connection"])
            finally:
                self._busy = False
        return execute(sql, params, many, context)

    def _begin(self, connection) -> None:
        from tenants.context import set_tenant_context

        if not connection.in_atomic_block:
            atomic = transaction.atomic(using=PRIMARY)
            atomic.__enter__()
            self.atomic = atomic
        raw = connection.connection
        if raw is not None and raw.info.transaction_status == pq.TransactionStatus.IDLE:
            set_tenant_context(self.context, using=PRIMARY)

    def finish(self, *, failed: bool, exc_info=(None, None, None)) -> None:
        """End the request's primary transaction (if one opened): commit, or roll back."""
        _read_alias.set(None)
        installed, self._installed = self._installed, None
        if installed is not None:
            installed.__exit__(None, None, None)
        atomic, self.atomic = self.atomic, None
        if atomic is None:
            return
        if failed and exc_info[0] is None:
            transaction.set_rollback(True, using=PRIMARY)
        atomic.__exit__(*exc_info)
