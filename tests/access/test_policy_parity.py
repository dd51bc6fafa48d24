"""The Python twins agree with PostgreSQL.

* ``access.policies.rule_allows`` (realtime, documents) against the records' select policy,
  for a grid of rules, callers and rows: the rows a caller sees through the app role with
  only a client context set are exactly those ``rule_allows`` lets through.
* ``datastore.filters.compile_jsonpath`` (what a rule's condition runs as) against the data
  API's own SQL (``datastore.matching.evaluate_in_database``) for many (condition, data) pairs.
"""

import itertools
import json

import pytest
from django.db import connection

from access.constants import SERVICE_ROLE
from access.policies import Caller, rule_allows
from datastore import filters, matching
from datastore.models import Record
from tenants.context import TenantContext, set_tenant_context
from tests.access.conftest import as_client

pytestmark = pytest.mark.django_db

ROWS = [
    {"n": 1, "tag": "x", "published": True},
    {"n": 3, "tag": "y", "published": False},
    {"n": 5, "tags": ["x", "z"]},
    {"n": "5", "published": True, "deep": {"k": 2}},
    {},
]
RULES = [
    ("everyone", "", []),
    ("everyone", "", ["n:gt:2"]),
    ("everyone", "", ["published:eq:true", 'tag:neq:"y"']),
    ("owner", "", []),
    ("owner", "", ["n:lte:3"]),
    ("role", "editor", []),
    ("role", "editor", ['tags:contains:"x"']),
    ("nobody", "", []),
]


@pytest.fixture
def grid(project_a, todos, make_end_user, set_rule):
    set_rule(project_a, todos, "insert", "authenticated", "owner")
    alice = make_end_user(project_a, "alice@example.com")
    bob = make_end_user(project_a, "bob@example.com")
    rows = []
    for who, data in itertools.product((alice, bob, None), ROWS):
        as_client(project_a, "authenticated" if who else SERVICE_ROLE, who)
        record = Record.objects.create(
            org_id=project_a.org_id, project=project_a, collection=todos, data=data
        )
        rows.append((record.pk, who.id if who else None, data))
    set_tenant_context(TenantContext())
    callers = {
        "anon": ("anon", None, ()),
        "alice": ("authenticated", alice, ()),
        "bob": ("authenticated", bob, ()),
        "alice-editor": ("authenticated", alice, ("editor",)),
    }
    return rows, callers


@pytest.mark.parametrize(("kind", "app_role", "conditions"), RULES)
def test_rule_allows_matches_the_select_policy(
    grid, project_a, todos, set_rule, kind, app_role, conditions
):
    rows, callers = grid
    rules = {}
    for role in ("anon", "authenticated"):
        if kind == "owner" and role == "anon":
            continue  # refused by rule_set: anonymous callers own nothing
        rules[role] = set_rule(
            project_a, todos, "select", role, kind, app_role=app_role, conditions=conditions
        )
    checked = 0
    for name, (role, end_user, app_roles) in callers.items():
        as_client(project_a, role, end_user, roles=app_roles)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM datastore_record")  # no WHERE: the policy decides
            seen = {row[0] for row in cursor.fetchall()}
        set_tenant_context(TenantContext())
        caller = Caller(
            project_id=project_a.id,
            client_role=role,
            end_user_id=end_user.id if end_user else None,
            app_roles=app_roles,
        )
        twin = {
            pk
            for pk, owner, data in rows
            if rule_allows(rules.get(role), caller=caller, owner_id=owner, data=data)
        }
        assert seen == twin, (name, kind, conditions)
        checked += len(seen)
    if kind != "nobody":
        assert checked > 0  # the grid has rows each rule lets through


VALUES = [True, False, None, 0, 1, 2.5, 3, -1, "", "a", "b", "x", "5", "10"]
DATA = [
    {},
    {"a": 1},
    {"a": 2.5},
    {"a": "b"},
    {"a": "10"},
    {"a": True},
    {"a": None},
    {"a": [1, "x", None]},
    {"a": {"b": 3}},
    {"a": ["b", "a"]},
    {"a": {"b": "x"}},
]
PATHS = ["a", "a.b"]


def conditions():
    for path, op in itertools.product(PATHS, ("eq", "neq", "lt", "lte", "gt", "gte")):
        for value in VALUES:
            if op in ("lt", "lte", "gt", "gte") and not isinstance(value, int | float | str):
                continue
            if isinstance(value, bool) and op not in ("eq", "neq"):
                continue
            yield f"{path}:{op}:{json.dumps(value)}"
    for path in PATHS:
        yield f"{path}:exists:true"
        yield f"{path}:exists:false"
        yield f'{path}:in:[1, "b", null]'
        for value in ("x", 1, None, "b"):
            yield f"{path}:contains:{json.dumps(value)}"


def test_compiled_jsonpath_agrees_with_the_data_api_sql():
    pairs = 0
    with connection.cursor() as cursor:
        for text in conditions():
            condition = filters.parse_condition(text)
            path, variables = filters.compile_jsonpath((condition,))
            for data in DATA:
                cursor.execute(
                    "SELECT COALESCE(jsonb_path_match(%s::jsonb, %s::jsonpath, %s::jsonb, true),"
                    " false)",
                    [json.dumps(data), path, json.dumps(variables)],
                )
                compiled = cursor.fetchone()[0]
                own = matching.evaluate_in_database([condition], data)
                assert compiled == own, (text, data, path)
                pairs += 1
    assert pairs > 1000
