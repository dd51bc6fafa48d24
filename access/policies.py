"""The access rules as PostgreSQL runs them, and their Python twin.

``client_policies`` builds the row-level security policies of a table whose rows belong to a
resource (records to their collection, stored objects to their bucket). For a client-app
transaction of a project (``tenants.rls``: ``app_client_role()`` is ``anon`` or
``authenticated``) a row is visible, insertable, changeable or deletable when the resource's
rule for that operation and role allows it:

* ``everyone``: any caller in the role;
* ``owner``: the row's ``end_user_id`` is the caller (the database fills it on insert);
* ``role``: the caller's ``app_metadata`` roles include the rule's ``app_role``;
* and, if the rule has a condition, the row's data satisfies it (a SQL/JSON path compiled
  from the data API's filter grammar by ``datastore.filters.compile_jsonpath``; its values
  are variables, never SQL text).

The project's secret key (``service_role``) passes every rule of its own project. No rule row
means nobody. The lookups of rules without a condition are uncorrelated subqueries that
PostgreSQL runs once per statement and hashes; only rules with a condition are looked up per
row, and only for resources that have one.
"""

import json
from dataclasses import dataclass
from typing import Any

from access.constants import SERVICE_ROLE, ClientRole, RuleKind
from datastore import filters, matching
from tenants.rls import CLIENT_APP_ROLES, CLIENT_END_USER, CLIENT_PROJECT, CLIENT_ROLE

RULES = "access_accessrule"


def rule_predicate(
    operation: str, *, resource: str, owner: str = "end_user_id", data: str | None = None
) -> str:
    """The rule check of ``operation`` for a row whose resource id is the column ``resource``."""
    rules = (
        f"SELECT r.resource_id FROM {RULES} r WHERE r.project_id = {CLIENT_PROJECT}"
        f" AND r.operation = '{operation}' AND r.client_role = {CLIENT_ROLE}"
    )
    plain = " AND r.condition IS NULL"
    has_role = f"r.app_role = ANY ({CLIENT_APP_ROLES})"
    who = (
        "(r.kind = 'everyone'"
        f" OR (r.kind = 'owner' AND {owner} = {CLIENT_END_USER})"
        f" OR (r.kind = 'role' AND {has_role}))"
    )
    parts = [
        f"{resource} IN ({rules} AND r.kind = 'everyone'{plain})",
        f"({owner} = {CLIENT_END_USER} AND {resource} IN ({rules} AND r.kind = 'owner'{plain}))",
        f"{resource} IN ({rules} AND r.kind = 'role' AND {has_role}{plain})",
    ]
    if data is not None:
        parts.append(
            f"({resource} IN ({rules} AND r.condition IS NOT NULL) AND EXISTS ({rules}"
            f" AND r.resource_id = {resource} AND r.condition IS NOT NULL AND {who}"
            f" AND jsonb_path_match({data}, r.condition, r.condition_vars, true)))"
        )
    return "(" + " OR ".join(parts) + ")"


def client_predicate(operation: str, *, resource: str, project_scope: str, **kw) -> str:
    """The whole client-app check: the secret key within its project, or the rules."""
    return (
        f"({CLIENT_ROLE} IS NOT NULL AND (({CLIENT_ROLE} = '{SERVICE_ROLE}' AND {project_scope})"
        f" OR {rule_predicate(operation, resource=resource, **kw)}))"
    )


def client_policies(table: str, *, resource: str, project_scope: str, **kw) -> list[str]:
    """CREATE POLICY statements, one per command, named ``client_<command>``."""
    check = {
        op: client_predicate(op, resource=resource, project_scope=project_scope, **kw)
        for op in ("select", "insert", "update", "delete")
    }
    return [
        f"DROP POLICY IF EXISTS client_select ON {table}",
        f"CREATE POLICY client_select ON {table} FOR SELECT USING ({check['select']})",
        f"DROP POLICY IF EXISTS client_insert ON {table}",
        f"CREATE POLICY client_insert ON {table} FOR INSERT WITH CHECK ({check['insert']})",
        f"DROP POLICY IF EXISTS client_update ON {table}",
        f"CREATE POLICY client_update ON {table} FOR UPDATE USING ({check['update']})"
        f" WITH CHECK ({check['update']})",
        f"DROP POLICY IF EXISTS client_delete ON {table}",
        f"CREATE POLICY client_delete ON {table} FOR DELETE USING ({check['delete']})",
    ]


def drop_client_policies(table: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS client_{op} ON {table}"
        for op in ("select", "insert", "update", "delete")
    ]


# --- the Python twin ------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """A client-app caller of one project, as its transaction's context describes it."""

    project_id: Any
    client_role: str
    end_user_id: Any = None
    app_roles: tuple[str, ...] = ()


def rule_allows(rule, *, caller: Caller, owner_id=None, data: Any = None) -> bool:
    """Would the policy let ``caller`` do the rule's operation on a row with ``owner_id`` and
    ``data``? ``rule`` is the resource's rule for that operation and the caller's role, or
    None (no rule: nobody); the resource is one of the caller's project. The realtime server
    and the document store decide with this; a test holds it to the SQL policy."""
    if caller.client_role == SERVICE_ROLE:
        return True  # the caller found the resource within its own project
    if rule is None or rule.client_role != caller.client_role:
        return False
    if rule.project_id != caller.project_id:
        return False
    if rule.kind == RuleKind.EVERYONE:
        who = True
    elif rule.kind == RuleKind.OWNER:
        who = owner_id is not None and str(owner_id) == str(caller.end_user_id)
    elif rule.kind == RuleKind.ROLE:
        who = rule.app_role in caller.app_roles
    else:
        return False
    if not who:
        return False
    if not rule.conditions:
        return True
    conditions = tuple(filters.parse_condition(text) for text in rule.conditions)
    return matching.matches(conditions, data if isinstance(data, dict) else {})


def is_subject_role(role: str) -> bool:
    return role in ClientRole.values


# --- what a rule amounts to, in words of SQL ------------------------------------------------
_SUBJECT = {
    RuleKind.EVERYONE: "true",
    RuleKind.OWNER: "end_user_id = auth user",
    RuleKind.ROLE: "'{app_role}' = ANY (auth user's app roles)",
}


def describe_rule(rule) -> str:
    """The condition the client policy amounts to for this rule's operation and role, e.g.
    ``client_role = 'authenticated' AND end_user_id = auth user AND data satisfies strict
    ($.published == $v0) with {"v0": true}``. Read-only text for developers; the policy
    itself is ``rule_predicate`` reading the rule row."""
    role = f"client_role = '{rule.client_role}'"
    if rule.kind not in _SUBJECT:
        return "false (nobody)"
    parts = [role, f"project = '{rule.project_id}'"]
    if rule.resource_type == "channel":
        parts.append(f"channel = '{rule.channel}'")
    else:
        parts.append(f"{rule.resource_type}_id = '{rule.resource_id}'")
    subject = _SUBJECT[rule.kind].format(app_role=rule.app_role)
    if subject != "true":
        parts.append(subject)
    if rule.condition:
        variables = json.dumps(rule.condition_vars, sort_keys=True, separators=(", ", ": "))
        parts.append(f"data satisfies {rule.condition} with {variables}")
    return " AND ".join(parts)
