"""Reads of access rules. Row-level security scopes them: developers see their org's, a
client-app transaction its own project's."""

from django.db.models import OuterRef, Q, QuerySet, Subquery

from access.constants import ResourceType, RuleKind
from access.models import AccessRule


def rule_list(*, project, resource_type: str | None = None, resource_id=None, channel=None):
    queryset: QuerySet[AccessRule] = AccessRule.objects.filter(
        org_id=project.org_id, project_id=project.id
    )
    if resource_type:
        queryset = queryset.filter(resource_type=resource_type)
    if resource_id is not None:
        queryset = queryset.filter(resource_id=resource_id)
    if channel is not None:
        queryset = queryset.filter(resource_type=ResourceType.CHANNEL, channel=channel)
    return queryset


def rule_for(*, project_id, operation: str, client_role: str, resource_id=None, channel=None):
    """The one rule of a resource for an operation and role, or None (nobody)."""
    queryset = AccessRule.objects.filter(
        project_id=project_id, operation=operation, client_role=client_role
    )
    if channel is not None:
        queryset = queryset.filter(resource_type=ResourceType.CHANNEL, channel=channel)
    else:
        queryset = queryset.filter(resource_id=resource_id)
    return queryset.first()


def rule_kind_subquery(*, operation: str, client_role: str, resource: str = "pk") -> Subquery:
    """The kind of the rule of the outer query's resource (``resource``) for an operation and
    role, as a subquery (None: no rule), so a lookup of the resource brings its rule along."""
    rules = AccessRule.objects.filter(
        resource_id=OuterRef(resource), operation=operation, client_role=client_role
    )
    return Subquery(rules.values("kind")[:1])


def rules_of_resource(*, project_id, resource_id, client_role: str) -> dict[str, AccessRule]:
    """The resource's rules for one client role, by operation (one query)."""
    rules = AccessRule.objects.filter(
        project_id=project_id, resource_id=resource_id, client_role=client_role
    )
    return {rule.operation: rule for rule in rules}


def resources_opened(*, project_id, operation: str, client_role: str, app_roles=()) -> QuerySet:
    """The ids of the resources whose rule for ``operation`` may allow a caller of
    ``client_role`` holding ``app_roles`` something (everyone, owner, or one of its app roles),
    as a subquery (``resource_id``)."""
    return AccessRule.objects.filter(
        Q(kind__in=(RuleKind.EVERYONE, RuleKind.OWNER)) | Q(kind=RuleKind.ROLE,
                                                             app_role__in=list(app_roles)),
        project_id=project_id, operation=operation, client_role=client_role,
    ).values("resource_id")  # fmt: skip
