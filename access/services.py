"""Writes of access rules.

``rule_set`` is the one way a rule changes: it checks the acting member may change access
rules, that the resource is the project's, compiles the condition with the data API's filter
grammar (``datastore.filters``) to a SQL/JSON path whose values are variables, and records an
audit row. The policies read the table, so the rule holds from the commit on.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from access.constants import (
    APP_ROLE_PATTERN,
    CHANNEL_OPERATIONS,
    MAX_CONDITIONS,
    ClientRole,
    Operation,
    ResourceType,
    RuleKind,
)
from access.models import AccessRule
from authn.audit import audit_org_write
from authn.constants import AuditAction
from datastore import filters
from datastore.selectors import collection_list
from storage.selectors import bucket_list
from tenants import constants
from tenants.permissions import require_org_perm

_APP_ROLE_RE = re.compile(APP_ROLE_PATTERN + r"\Z")
_CHANNEL_RE = re.compile(r"[A-Za-z0-9_:\-.]{1,120}\Z")


def compile_conditions(conditions) -> tuple[str | None, dict]:
    """Data API filters (``published:eq:true``) -> (jsonpath, variables), or ValidationError."""
    if not isinstance(conditions, list | tuple) or len(conditions) > MAX_CONDITIONS:
        raise ValidationError({"conditions": f"A list of at most {MAX_CONDITIONS} filters."})
    try:
        parsed = tuple(filters.parse_condition(text) for text in conditions)
        return filters.compile_jsonpath(parsed)
    except filters.FilterError as exc:
        raise ValidationError({"conditions": str(exc)}) from None


def _resource_of(project, resource_type: str, resource_id):
    """The project's collection or bucket, or ValidationError."""
    if resource_type == ResourceType.COLLECTION:
        found = collection_list(project=project).filter(pk=resource_id).exists()
    else:
        found = bucket_list(project=project).filter(pk=resource_id).exists()
    if not found:
        raise ValidationError({"resource_id": f"No such {resource_type} in this project."})


@transaction.atomic
def rule_set(
    *,
    membership,
    project,
    resource_type: str,
    operation: str,
    client_role: str,
    kind: str,
    resource_id=None,
    channel: str = "",
    app_role: str = "",
    conditions=(),
) -> AccessRule:
    """Set (create or replace) the rule of a resource for an operation and a client role."""
    require_org_perm(membership, constants.CHANGE_ACCESS_RULES, project)
    errors = {}
    if resource_type not in ResourceType.values:
        errors["resource_type"] = f"One of {', '.join(ResourceType.values)}."
    if client_role not in ClientRole.values:
        errors["client_role"] = f"One of {', '.join(ClientRole.values)}."
    if kind not in RuleKind.values:
        errors["kind"] = f"One of {', '.join(RuleKind.values)}."
    allowed_ops = CHANNEL_OPERATIONS if resource_type == ResourceType.CHANNEL else Operation.values
    if operation not in allowed_ops:
        errors["operation"] = f"One of {', '.join(allowed_ops)}."
    if kind == RuleKind.ROLE:
        if not isinstance(app_role, str) or not _APP_ROLE_RE.match(app_role):
            errors["app_role"] = "A role name: lowercase letters, digits, underscores."
    elif app_role:
        errors["app_role"] = "Only a rule of kind 'role' names an app role."
    if kind == RuleKind.OWNER and client_role == ClientRole.ANON:
        errors["kind"] = "Anonymous callers own no rows; use 'everyone' or 'nobody'."
    if resource_type == ResourceType.CHANNEL:
        if not isinstance(channel, str) or not _CHANNEL_RE.match(channel):
            errors["channel"] = "A channel name: letters, digits and _ : - . (max 120)."
        if kind == RuleKind.OWNER or conditions:
            errors["kind"] = "A channel rule is nobody, everyone or an app role."
        resource_id = None
    if errors:
        raise ValidationError(errors)
    if resource_type != ResourceType.CHANNEL:
        _resource_of(project, resource_type, resource_id)
        channel = ""
    condition, variables = compile_conditions(list(conditions or []))
    lookup = {"project": project, "operation": operation, "client_role": client_role}
    if resource_type == ResourceType.CHANNEL:
        lookup.update(resource_type=resource_type, channel=channel)
    else:
        lookup.update(resource_id=resource_id)
    rule, _ = AccessRule.objects.update_or_create(
        **lookup,
        defaults={
            "org_id": project.org_id,
            "resource_type": resource_type,
            "kind": kind,
            "app_role": app_role or "",
            "conditions": list(conditions or []),
            "condition": condition,
            "condition_vars": variables,
            "updated_by": membership.user,
        },
    )
    audit_org_write(
        membership=membership,
        action=AuditAction.ACCESS_RULE_SET,
        target=rule,
        metadata={
            "project": str(project.id),
            "resource": str(resource_id or channel),
            "operation": operation,
            "client_role": client_role,
            "kind": kind,
        },
    )
    return rule
