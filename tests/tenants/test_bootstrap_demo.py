"""The demo ``make run`` seeds (``manage.py bootstrap_demo``): the org and its users once, and
a client app whose keys work, whose ``todos`` rules are owner-only for end users and closed to
anon, with open sign-up; keys are printed once per run, only their hashes stored."""

import io
import re

import pytest
from django.core.management import call_command

from access.selectors import rule_list
from endusers.models import ProjectAuthSettings
from tenants.context import TenantContext, tenant_context
from tenants.models import Project, ProjectKey

pytestmark = pytest.mark.django_db
WHO = "/client/v1/project/"
PLATFORM = TenantContext(platform_admin=True)


def run() -> str:
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    return out.getvalue()


def printed_keys(output: str) -> dict:
    return dict(re.findall(r"Demo (publishable|secret) key: (sb_\w+_[\w-]+)", output))


def test_the_demo_client_app_is_created_with_working_keys_and_owner_rules(api_client):
    output = run()
    assert "Demo org owner: owner@demo.example" in output
    keys = printed_keys(output)
    assert set(keys) == {"publishable", "secret"}
    assert keys["publishable"].startswith("sb_publishable_")
    assert keys["secret"].startswith("sb_secret_")
    with tenant_context(PLATFORM):
        project = Project.objects.get(name="todo-app", org__slug="demo")
        stored = list(ProjectKey.objects.filter(project=project))
        rules = list(rule_list(project=project))
        settings = ProjectAuthSettings.objects.get(project=project)
    assert f"ref {project.ref}" in output
    for raw in keys.values():  # only hashes are stored
        assert all(raw not in (k.key_hash, k.prefix, k.name) for k in stored)
    anon = api_client.get(WHO, HTTP_APIKEY=keys["publishable"]).json()
    assert (anon["name"], anon["role"]) == ("todo-app", "anon")
    assert api_client.get(WHO, HTTP_APIKEY=keys["secret"]).json()["role"] == "service_role"
    assert {(r.operation, r.client_role, r.kind) for r in rules} == {
        (op, "authenticated", "owner") for op in ("select", "insert", "update", "delete")
    }
    assert all(r.resource_type == "collection" and not r.conditions for r in rules)
    assert settings.signup == "open"


def test_a_second_run_rotates_the_keys_it_cannot_print_again(api_client):
    first = printed_keys(run())
    output = run()
    assert "already exist" in output
    second = printed_keys(output)
    assert set(second) == {"publishable", "secret"}
    for kind in second:
        assert second[kind] != first[kind]
        assert api_client.get(WHO, HTTP_APIKEY=first[kind]).status_code == 401
        assert api_client.get(WHO, HTTP_APIKEY=second[kind]).status_code == 200
    with tenant_context(PLATFORM):
        project = Project.objects.get(name="todo-app")
        live = ProjectKey.objects.filter(project=project, revoked_at__isnull=True)
        assert sorted(live.values_list("kind", flat=True)) == ["publishable", "secret"]
        assert Project.objects.filter(name="todo-app").count() == 1
        assert rule_list(project=project).count() == 4
