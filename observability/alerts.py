"""Alert rules, their evaluation, deduplication, routing and escalation.

``evaluate()`` runs every ``ALERT_EVALUATION_SECONDS`` from Celery beat: each polled rule
(Redis down, error rate, p99 latency, cache hit rate, replication lag) yields observations;
an observation that fires opens one alert per dedup key (a second firing only updates it), one
that clears resolves it. Event-driven rules (hot key, backup failed) come in through
``raise_event`` from the detector that saw them. Notifications are sent straight from the
evaluating process, never through the broker: the broker may be the Redis that is down.

Other apps feed signals without importing this module's internals::

    from observability.alerts import raise_event, register_signal
    raise_event("hotkey", key="org:123:key", value=5400, summary="...", org_id=org.id)
    register_signal("cache_hit_rate", lambda: Reading(hits / (hits + misses), hits + misses))

A polled signal rule decides only on enough data: a reading of fewer than
``ALERT_MIN_SAMPLES`` lookups (hit rate) or requests (p99) in the rule's window does not fire,
and resolves an open alert, so an idle platform (a fresh start) raises nothing.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from observability.constants import SEVERITY_RANK, AlertState, RuleKind, Severity
from observability.models import Alert, AlertChannel, AlertDelivery, AlertRule
from tenants.context import TenantContext, tenant_context

logger = structlog.get_logger(__name__)

# kind -> (name, severity, threshold, window minutes, runbook page)
BUILTIN_RULES = {
    RuleKind.REDIS_DOWN: ("Redis down", Severity.CRITICAL, 0, 1, "redis-down"),
    RuleKind.ERROR_RATE: ("Error rate high", Severity.WARNING, 10, 5, "error-rate"),
    RuleKind.P99_LATENCY: ("p99 latency high", Severity.WARNING, 1000, 5, "latency"),
    RuleKind.CACHE_HIT_RATE: ("Cache hit rate low", Severity.WARNING, 0.5, 15, "cache-hit-rate"),
    RuleKind.HOTKEY: ("Hot key", Severity.WARNING, 1000, 1, "hotkey"),
    RuleKind.BACKUP_FAILED: ("Backup failed", Severity.CRITICAL, 0, 1, "backup-failed"),
    RuleKind.REPLICATION_LAG: ("Replication lag", Severity.WARNING, 30, 1, "replication-lag"),
    RuleKind.FUNCTION_ERROR_RATE: (
        "Function error rate high", Severity.WARNING, 0.5, 5, "function-error-rate",
    ),
}  # fmt: skip
# A function is judged on at least this many invocations in the rule's window.
FUNCTION_MIN_INVOCATIONS = 20


@dataclass(frozen=True)
class Reading:
    """A signal's value and how many samples (lookups, requests) it was computed from."""

    value: float | None
    samples: int


_SIGNALS: dict[str, Callable[..., Reading | None]] = {}
_WINDOWED: set[str] = set()


def register_signal(
    name: str, source: Callable[..., Reading | None], *, windowed: bool = False
) -> None:
    """A reading a polled rule takes: ``p99_latency_ms`` or ``cache_hit_rate``.

    A ``windowed`` source is called with ``window_minutes=`` the rule's window; None means no
    data (the rule neither fires nor resolves).
    """
    _SIGNALS[name] = source
    if windowed:
        _WINDOWED.add(name)
    else:
        _WINDOWED.discard(name)


@dataclass
class Observation:
    key: str
    firing: bool
    summary: str
    value: float | None = None
    org_id: object = None


def ensure_builtin_rules() -> None:
    base = settings.ALERT_RUNBOOK_BASE_URL.rstrip("/")
    for kind, (name, severity, threshold, window, page) in BUILTIN_RULES.items():
        AlertRule.objects.get_or_create(
            kind=kind,
            org=None,
            defaults={
                "name": name,
                "severity": severity,
                "threshold": threshold,
                "window_minutes": window,
                "runbook_url": f"{base}/{page}",
            },
        )


# --- polled rules ---------------------------------------------------------------------------------
def _redis_down(rule, now) -> list[Observation]:
    from cache.breaker import breaker_status
    from observability.health import _redis, timed

    check = timed("redis", _redis)
    state = breaker_status()["state"]
    firing = not check.ok or state == "open"
    summary = (
        f"Redis unreachable ({check.detail}); breaker {state}" if firing else "Redis reachable"
    )
    return [Observation("redis_down", firing, summary)]


def _error_rate(rule, now) -> list[Observation]:
    from observability.selectors import error_count_since

    window = max(rule.window_minutes, 1)
    count = error_count_since(since=now - timedelta(minutes=window), org_id=rule.org_id)
    rate = count / window
    return [
        Observation(
            f"error_rate:{rule.org_id or 'platform'}",
            rate > rule.threshold,
            f"{rate:.1f} errors/min over {window} min (threshold {rule.threshold:g})",
            rate,
            rule.org_id,
        )
    ]


def _from_signal(name: str, *, above: bool, unit: str):
    def evaluate(rule, now) -> list[Observation]:
        source = _SIGNALS.get(name)
        if source is None:
            reading = None
        elif name in _WINDOWED:
            reading = source(window_minutes=rule.window_minutes)
        else:
            reading = source()
        if reading is None:
            return []  # no data: neither fire nor resolve
        key = f"{rule.kind}:{rule.org_id or 'platform'}"
        minimum = settings.ALERT_MIN_SAMPLES
        if reading.value is None or reading.samples < minimum:
            summary = (
                f"{name}: {reading.samples} samples in {rule.window_minutes} min "
                f"(at least {minimum} needed)"
            )
            return [Observation(key, False, summary, reading.value)]
        value = reading.value
        firing = value > rule.threshold if above else value < rule.threshold
        word = "above" if above else "below"
        summary = (
            f"{name} = {value:g}{unit} ({word} {rule.threshold:g}{unit}; "
            f"{reading.samples} samples in {rule.window_minutes} min)"
        )
        return [Observation(key, firing, summary, value)]

    return evaluate


def _replication_lag(rule, now) -> list[Observation]:
    """The read replica's lag as the replica measures it (``tenants.replicas``), or without
    a replica configured, the primary's view of its standbys (``pg_stat_replication``)."""
    from tenants import replicas

    if replicas.configured():
        status = replicas.replica_status(fresh=True)
        if status.lag_seconds is None:
            return [
                Observation(
                    "replication_lag", True, f"PostgreSQL replica {status.state}: {status.detail}"
                )
            ]
        lag = status.lag_seconds
        return [
            Observation(
                "replication_lag",
                lag > rule.threshold,
                f"PostgreSQL replica lag {lag:.1f}s (threshold {rule.threshold:g}s; reads leave "
                f"it above {status.max_lag_seconds:g}s)",
                lag,
            )
        ]
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication"
        )
        lag = float(cursor.fetchone()[0] or 0)
    return [
        Observation(
            "replication_lag",
            lag > rule.threshold,
            f"PostgreSQL replica lag {lag:.1f}s (threshold {rule.threshold:g}s)",
            lag,
        )
    ]


def _function_error_rate(rule, now) -> list[Observation]:
    """Per function: the share of its invocations in the window that failed (an exit other
    than ok, or a 5xx), with the function's org as the alert's org. An open alert of a
    function with too few invocations now (or none) resolves."""
    from functions.selectors import invocation_outcomes

    since = now - timedelta(minutes=max(rule.window_minutes, 1))
    observations, seen = [], set()
    for row in invocation_outcomes(since=since, org_id=rule.org_id):
        key = f"function_error_rate:{row['function_id']}"
        seen.add(key)
        total, failed = row["total"], row["failed"]
        share = failed / total
        firing = total >= FUNCTION_MIN_INVOCATIONS and share > rule.threshold
        summary = (
            f"function {row['name']}: {failed} of {total} invocations failed in "
            f"{rule.window_minutes} min (threshold {rule.threshold:g}, at least "
            f"{FUNCTION_MIN_INVOCATIONS} invocations)"
        )
        observations.append(Observation(key, firing, summary, share, row["org_id"]))
    open_keys = Alert.objects.filter(rule=rule).exclude(state=AlertState.RESOLVED)
    for key in open_keys.values_list("dedup_key", flat=True):
        if key not in seen:
            observations.append(Observation(key, False, "no failing invocations in the window"))
    return observations


EVALUATORS = {
    RuleKind.REDIS_DOWN: _redis_down,
    RuleKind.ERROR_RATE: _error_rate,
    RuleKind.P99_LATENCY: _from_signal("p99_latency_ms", above=True, unit="ms"),
    RuleKind.CACHE_HIT_RATE: _from_signal("cache_hit_rate", above=False, unit=""),
    RuleKind.REPLICATION_LAG: _replication_lag,
    RuleKind.FUNCTION_ERROR_RATE: _function_error_rate,
}


def evaluate(*, now=None) -> dict:
    """One evaluation round: fire, update, resolve, escalate. Returns counts for the log."""
    now = now or timezone.now()
    counts = {"fired": 0, "resolved": 0, "escalated": 0}
    with tenant_context(TenantContext(platform_admin=True)):
        ensure_builtin_rules()
        for rule in AlertRule.objects.filter(enabled=True):
            evaluator = EVALUATORS.get(rule.kind)
            if evaluator is None:
                continue
            try:
                observations = evaluator(rule, now)
            except Exception as exc:  # one broken rule must not silence the others
                logger.warning("alert_rule_failed", rule=rule.kind, error=str(exc)[:200])
                continue
            for observation in observations:
                outcome = apply(rule, observation, now=now)
                if outcome in counts:
                    counts[outcome] += 1
        counts["escalated"] = escalate(now=now)
        counts["retried"] = retry_failed_deliveries(now=now)
    logger.info("alerts_evaluated", **counts)
    return counts


def raise_event(
    kind: str,
    *,
    key: str,
    summary: str = "",
    value: float | None = None,
    org_id=None,
    resolve: bool = False,
    now=None,
) -> str | None:
    """Fire (or with ``resolve=True`` clear) an event-driven alert, e.g. a hot key.

    With a ``value`` the rule's threshold decides: at or below it the alert resolves.
    Returns "fired", "updated", "resolved" or None.
    """
    now = now or timezone.now()
    # Detectors may call this inside a request: its own context comes back afterwards.
    with tenant_context(TenantContext(platform_admin=True)):
        ensure_builtin_rules()
        rule = (
            AlertRule.objects.filter(kind=kind, enabled=True)
            .filter(Q(org_id=org_id) | Q(org__isnull=True))
            .order_by("org_id")  # an org's own rule wins over the platform one
            .first()
        )
        if rule is None:
            return None
        firing = not resolve and (value is None or value > rule.threshold)
        text = summary or f"{rule.name}: {key}" + (f" = {value:g}" if value is not None else "")
        return apply(rule, Observation(f"{kind}:{key}", firing, text, value, org_id), now=now)


def apply(rule: AlertRule, observation: Observation, *, now) -> str | None:
    org_id = observation.org_id or rule.org_id
    open_alert = (
        Alert.objects.select_for_update()
        .filter(dedup_key=observation.key)
        .exclude(state=AlertState.RESOLVED)
        .first()
    )
    if observation.firing and open_alert is None:
        alert = Alert.objects.create(
            org_id=org_id,
            rule=rule,
            dedup_key=observation.key,
            state=AlertState.FIRING,
            severity=rule.severity,
            summary=observation.summary,
            value=observation.value,
            started_at=now,
        )
        logger.warning("alert_fired", alert_id=str(alert.id), dedup_key=alert.dedup_key)
        notify_on_commit(alert, "trigger", levels=[0])
        return "fired"
    if observation.firing:
        open_alert.summary, open_alert.value = observation.summary, observation.value
        open_alert.save(update_fields=["summary", "value"])
        return "updated"
    if open_alert is not None:
        open_alert.state = AlertState.RESOLVED
        open_alert.resolved_at = now
        open_alert.save(update_fields=["state", "resolved_at"])
        logger.info("alert_resolved", alert_id=str(open_alert.id), dedup_key=open_alert.dedup_key)
        notify_on_commit(open_alert, "resolve", levels=range(open_alert.escalation_level + 1))
        return "resolved"
    return None


def escalate(*, now) -> int:
    """Unacknowledged alerts past their rule's delay go to the next level's channels."""
    escalated = 0
    for alert in Alert.objects.select_for_update().filter(state=AlertState.FIRING):
        since = alert.escalated_at or alert.started_at
        if now - since < timedelta(minutes=alert.rule.escalate_after_minutes):
            continue
        next_level = alert.escalation_level + 1
        if not routed_channels(alert, level=next_level):
            continue
        alert.escalation_level, alert.escalated_at = next_level, now
        alert.save(update_fields=["escalation_level", "escalated_at"])
        logger.warning("alert_escalated", alert_id=str(alert.id), level=next_level)
        notify_on_commit(alert, "escalate", levels=[next_level])
        escalated += 1
    return escalated


def retry_failed_deliveries(*, now) -> int:
    """Send again what a channel refused (5xx, timeout), up to ``ALERT_DELIVERY_ATTEMPTS``."""
    from django.db.models import Count

    rows = (
        AlertDelivery.objects.filter(alert__isnull=False, at__gte=now - timedelta(hours=24))
        .values("alert_id", "channel_id", "action")
        .annotate(attempts=Count("id"), delivered=Count("id", filter=Q(ok=True)))
        .filter(delivered=0, attempts__lt=settings.ALERT_DELIVERY_ATTEMPTS)
    )
    pending = [(r["alert_id"], r["channel_id"], r["action"]) for r in rows]
    for alert_id, channel_id, action in pending:
        transaction.on_commit(
            lambda a=alert_id, c=channel_id, act=action: deliver(a, act, [], channel_ids=[c])
        )
    return len(pending)


def routed_channels(alert: Alert, *, level: int) -> list[AlertChannel]:
    """Channels of the alert's org (and the platform's) at ``level`` taking its severity."""
    scope = Q(org__isnull=True) if alert.org_id is None else Q(org_id=alert.org_id)
    channels = AlertChannel.objects.filter(scope, enabled=True, escalation_level=level)
    return [c for c in channels if SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[c.min_severity]]


def notify_on_commit(alert: Alert, action: str, *, levels: Iterable[int]) -> None:
    alert_id, levels = alert.id, list(levels)
    transaction.on_commit(lambda: deliver(alert_id, action, levels))


def deliver(
    alert_id, action: str, levels: list[int], *, channel_ids: list | None = None
) -> list[AlertDelivery]:
    """Notify the routed channels of ``levels`` (or exactly ``channel_ids``, for retries).

    Runs after commit. Reads in one transaction, sends with none open (a slow channel holds no
    database connection), records every attempt in another.
    """
    from observability import notify

    with tenant_context(TenantContext(platform_admin=True)):
        alert = Alert.objects.select_related("rule").get(pk=alert_id)
        channels = [c for level in levels for c in routed_channels(alert, level=level)]
        if channel_ids:
            channels += list(AlertChannel.objects.filter(id__in=channel_ids, enabled=True))
    results = [(channel, notify.send(channel, action=action, alert=alert)) for channel in channels]
    with tenant_context(TenantContext(platform_admin=True)):
        return [
            notify.record(channel, result, action=action, alert=alert)
            for channel, result in results
        ]
