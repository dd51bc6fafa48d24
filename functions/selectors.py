"""Reads for functions; row-level security scopes every query to the org in context."""

from django.db.models import Count, F, Q, QuerySet

from cache import entities
from functions.models import Function, FunctionVersion, Invocation
from tenants.context import TenantContext, tenant_context


def function_list(*, project) -> QuerySet[Function]:
    return Function.objects.filter(project=project).select_related("active_version")


def function_get(*, project, name: str) -> Function | None:
    return function_list(project=project).filter(name=name).first()


def version_list(*, function: Function) -> QuerySet[FunctionVersion]:
    return FunctionVersion.objects.filter(function=function).order_by("-number")


def version_get(*, function: Function, number: int) -> FunctionVersion | None:
    return version_list(function=function).filter(number=number).first()


def invocation_list(*, function: Function, limit: int = 100) -> QuerySet[Invocation]:
    return (
        Invocation.objects.filter(function=function)
        .select_related("version")
        .order_by("-created_at")[:limit]
    )


def project_has_record_functions(*, org_id, project_id) -> bool:
    """Whether any active function of the project listens to record events, from this
    process's copy when the epoch allows (a function's save or delete sets a new one)."""

    def load() -> bool:
        with tenant_context(TenantContext(org_id=org_id)):
            listening = Function.objects.filter(project_id=project_id, active_version__isnull=False)
            return listening.exclude(record_events=[]).exists()

    return entities.cached(("record_functions", str(project_id)), load)


def functions_for_change(*, project_id, collection: str, event: str) -> list[Function]:
    return [
        function
        for function in Function.objects.filter(
            project_id=project_id, active_version__isnull=False
        ).exclude(record_events=[])
        if event in function.record_events and function.record_collection in ("", collection)
    ]


def function_by_id(*, function_id) -> Function | None:
    return Function.objects.select_related("project").filter(pk=function_id).first()


def invocation_outcomes(*, since, org_id=None) -> list[dict]:
    """Per function with invocations since ``since``: its org, name, how many, how many
    failed (an exit other than ok, or a 5xx). One query; the alert rule reads it."""
    queryset = Invocation.objects.filter(created_at__gte=since)
    if org_id is not None:
        queryset = queryset.filter(org_id=org_id)
    failed = ~Q(exit_reason="ok") | Q(status__gte=500)
    return list(
        queryset.values("function_id", "org_id", name=F("function__name"))
        .annotate(total=Count("id"), failed=Count("id", filter=failed))
        .order_by("function_id")
    )
