"""Reads for operators (error groups) and for org members (their alerts and channels)."""

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from observability.models import Alert, AlertChannel, ErrorGroup

ERRORS_DB = "owner"  # see observability.models: errors live outside request transactions


def error_groups_recent(*, hours: int = 24) -> QuerySet[ErrorGroup]:
    since = timezone.now() - timedelta(hours=hours)
    return (
        ErrorGroup.objects.using(ERRORS_DB)
        .filter(last_seen__gte=since)
        .annotate(count_24h=Count("occurrences", filter=Q(occurrences__at__gte=since)))
        .order_by("-last_seen")
    )


def error_count_since(*, since, org_id=None) -> int:
    from observability.models import ErrorOccurrence

    qs = ErrorOccurrence.objects.using(ERRORS_DB).filter(at__gte=since)
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    return qs.count()


def channel_list(*, org) -> QuerySet[AlertChannel]:
    return AlertChannel.objects.filter(org=org)


def channel_get(*, org, channel_id) -> AlertChannel | None:
    return AlertChannel.objects.filter(org=org, id=channel_id).first()


def alert_list(*, org, limit: int = 100) -> QuerySet[Alert]:
    return Alert.objects.filter(org=org).select_related("rule")[:limit]


def alert_get(*, org, alert_id) -> Alert | None:
    return Alert.objects.filter(org=org, id=alert_id).select_related("rule").first()


def alerts_recent_platform(*, limit: int = 100) -> list[Alert]:
    """For operators: read in the platform admin context, outside any request transaction."""
    from tenants.context import TenantContext, tenant_context

    with tenant_context(TenantContext(platform_admin=True)):
        return list(Alert.objects.select_related("rule")[:limit])


def error_groups_by_request(*, org_id, request_ids) -> dict[str, ErrorGroup]:
    """The error group of each of the org's requests that recorded an error (request id ->
    group), for the Studio's request log."""
    from observability.models import ErrorOccurrence

    if not request_ids:
        return {}
    occurrences = (
        ErrorOccurrence.objects.using(ERRORS_DB)
        .filter(org_id=org_id, request_id__in=list(request_ids))
        .select_related("group")
    )
    return {o.request_id: o.group for o in occurrences}
