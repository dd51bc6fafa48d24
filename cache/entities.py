"""Per-process copies of the rows every request reads about its caller, valid for one epoch.

What a request needs before its own query (the user, the membership with its org, the API key
with its project, the collection with its project or its client rule kind, whether a project
has record listeners) changes rarely and is read on every call. Each process keeps a copy,
tagged with the epoch it was read under; ``entities:epoch`` in Redis (the session cache's
Redis) holds the current epoch, a random token that never repeats.

* A request reads the epoch once (in the same ``MGET`` as its session check, or on its own)
  and trusts a copy only if its tag is that epoch. Any change to a watched model
  (``watch``: ``post_save`` / ``post_delete``) sets a new epoch, so every process's copies
  stop counting at once, on every instance.
* The epoch is set both inside the writing transaction and again after commit: a copy read
  between the two (the old row, the new epoch) is dropped by the second.
* Without Redis (the call fails, the breaker is open) no copy is believed: the request reads
  PostgreSQL, and the process drops its copies. After any Redis failure in a process (a
  change whose new epoch could not be written among them) and at process start, the process
  sets a new epoch before it believes a copy again, which also stops every other instance's
  copies. A copy also expires after ``ENTITY_CACHE_TTL`` seconds.
* Inside a request that reads from the replica (``tenants.replicas``) a miss reads the
  replica and the value is used but not kept: the replica may not have the change whose new
  epoch was just read. The same holds for a GET/HEAD's miss that finds the primary
  unreachable: it is read again from the replica (``replicas.load_for_read``).

Copies are model snapshots (field values, not instances): each lookup gets fresh instances,
so no request can change what another sees.
"""

import copy
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from cache import sessions as session_cache
from cache.breaker import RedisUnavailable, redis_call
from tenants import replicas

logger = structlog.get_logger(__name__)

EPOCH_KEY = "entities:epoch"
MISSING = object()


@dataclass
class EntityStats:
    hits: int = 0
    misses: int = 0
    bypassed: int = 0
    invalidations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    def snapshot(self) -> dict:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "bypassed": self.bypassed,
            "invalidations": self.invalidations,
        }


stats = EntityStats()
_lock = threading.Lock()
_copies: OrderedDict[tuple, tuple[str, Any, float]] = OrderedDict()


class _Memo:
    """The epoch one request read (``None``: Redis unavailable), read at most once."""

    __slots__ = ("read", "value")

    def __init__(self):
        self.read = False
        self.value: str | None = None


_stale = threading.Event()
_stale.set()  # a new process sets a new epoch first (a change elsewhere may not have)
_request: ContextVar[_Memo | None] = ContextVar("entity_cache_request", default=None)


class RequestScope:
    """Middleware: one epoch read per request. Outside a request every lookup reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(_Memo())
        try:
            with replicas.read_request(request.method):
                return self.get_response(request)
        finally:
            _request.reset(token)


def _client():
    return session_cache._client()


def _read_epoch() -> str | None:
    try:
        if _stale.is_set():
            # After a Redis failure (or at process start) a change may not have set its new
            # epoch: set one before any copy counts again, here and on every instance.
            epoch = uuid.uuid4().hex
            redis_call(_client().set, EPOCH_KEY, epoch)
            clear_local()
            _stale.clear()
            return epoch
        raw = redis_call(_client().get, EPOCH_KEY)
        if raw is None:  # a Redis that lost its data: start a new epoch, whoever wins
            redis_call(_client().set, EPOCH_KEY, uuid.uuid4().hex, nx=True)
            raw = redis_call(_client().get, EPOCH_KEY)
    except RedisUnavailable:
        session_cache.mark_unavailable()
        return None
    return raw.decode() if isinstance(raw, bytes) else raw


def prime(raw) -> None:
    """The epoch as the session check's ``MGET`` returned it (None: the key is missing)."""
    memo = _request.get()
    if memo is not None and raw is not None and not _stale.is_set():
        memo.read, memo.value = True, raw.decode() if isinstance(raw, bytes) else raw


def epoch_wanted() -> bool:
    """Whether the current request has yet to read the epoch."""
    memo = _request.get()
    return memo is not None and not memo.read


def unavailable() -> None:
    """A Redis call failed: no copy counts for the rest of the request, nor until a new epoch
    is set."""
    _stale.set()
    memo = _request.get()
    if memo is not None:
        memo.read, memo.value = True, None


def current_epoch() -> str | None:
    memo = _request.get()
    if memo is not None and memo.read:
        return memo.value
    value = _read_epoch()
    if memo is not None:
        memo.read, memo.value = True, value
    return value


def clear_local() -> None:
    with _lock:
        _copies.clear()


def cached(key: tuple, load: Callable[[], Any], *, keep: Callable[[Any], bool] = None) -> Any:
    """``load()``'s value for ``key``, from this process's copy when it is of the current
    epoch. ``keep(value)`` false: the value is not kept (e.g. unknown API keys, which anyone
    can invent)."""
    epoch = current_epoch()
    if epoch is None:
        stats.count("bypassed")
        clear_local()
        return load()
    now = time.monotonic()
    with _lock:
        entry = _copies.get(key)
        if entry is not None and entry[0] == epoch and entry[2] > now:
            _copies.move_to_end(key)
            value = entry[1]
        else:
            value = MISSING
    if value is not MISSING:
        stats.count("hits")
        return value
    stats.count("misses")
    value, from_primary = replicas.load_for_read(load)
    if not from_primary or replicas.read_alias() == replicas.REPLICA:
        # Read from the replica, which may lag the epoch just read: used, never kept.
        return value
    if keep is None or keep(value):
        with _lock:
            _copies[key] = (epoch, value, now + settings.ENTITY_CACHE_TTL)
            _copies.move_to_end(key)
            while len(_copies) > settings.ENTITY_CACHE_SIZE:
                _copies.popitem(last=False)
    return value


def replace(key: tuple, update: Callable[[Any], Any]) -> None:
    """Change this process's copy in place (bookkeeping no other process needs to see)."""
    with _lock:
        entry = _copies.get(key)
        if entry is not None:
            _copies[key] = (entry[0], update(entry[1]), entry[2])


def new_epoch() -> bool:
    """Set a new epoch and drop this process's copies; False when Redis could not be told
    (the process then reconciles before believing a copy again)."""
    clear_local()
    memo = _request.get()
    if memo is not None:
        memo.read = False
    try:
        redis_call(_client().set, EPOCH_KEY, uuid.uuid4().hex)
    except RedisUnavailable:
        session_cache.mark_unavailable()
        logger.warning("entity_cache_epoch_pending")
        return False
    return True


def invalidate() -> None:
    """A watched row changed: a new epoch now, and again once the transaction commits."""
    stats.count("invalidations")
    new_epoch()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(new_epoch, robust=True)


def watch(label: str, *, ignore: tuple[str, ...] = ()) -> None:
    """Every save or delete of the model ``app_label.ModelName`` sets a new epoch, except a
    save of only the ``ignore`` fields (bookkeeping such as ``last_login``)."""
    model = apps.get_model(label)

    def changed(sender, update_fields=None, **kwargs) -> None:
        if update_fields and set(update_fields) <= set(ignore):
            return
        invalidate()

    uid = f"cache.entities.{label}"
    post_save.connect(changed, sender=model, dispatch_uid=f"{uid}.save", weak=False)
    post_delete.connect(changed, sender=model, dispatch_uid=f"{uid}.delete", weak=False)


# --- model snapshots --------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    model: type
    names: tuple[str, ...]
    values: tuple
    related: tuple[tuple[str, "Snapshot | None"], ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()


def snapshot(instance, *, related: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> Snapshot:
    """The concrete field values of ``instance`` (and of its ``related`` foreign objects,
    already loaded), plus the ``extra`` attributes (annotations)."""
    fields = instance._meta.concrete_fields
    return Snapshot(
        model=type(instance),
        names=tuple(f.attname for f in fields),
        values=tuple(getattr(instance, f.attname) for f in fields),
        related=tuple(
            (name, None if getattr(instance, name) is None else snapshot(getattr(instance, name)))
            for name in related
        ),
        extra=tuple((name, getattr(instance, name)) for name in extra),
    )


def restore(snap: Snapshot | None):
    """A fresh instance (as if loaded from the database) of a ``snapshot``."""
    if snap is None:
        return None
    values = [copy.deepcopy(v) if isinstance(v, dict | list) else v for v in snap.values]
    instance = snap.model.from_db("default", list(snap.names), values)
    for name, related in snap.related:
        setattr(instance, name, restore(related))
    for name, value in snap.extra:
        setattr(instance, name, value)
    return instance
