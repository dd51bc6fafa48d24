"""The built-in alert rule on a function's error rate: it fires for the function's org when
most of its invocations in the window failed, and resolves when they stop failing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from functions.models import Function, FunctionVersion, Invocation
from observability import alerts
from observability.constants import AlertState
from observability.models import Alert
from tenants import services as tenant_services
from tenants.context import TenantContext, tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _function(org, project, name: str) -> Function:
    function = Function.objects.create(org=org, project=project, name=name)
    FunctionVersion.objects.create(
        org=org, function=function, number=1, source="x", source_hash="0" * 64
    )
    return function


def _invocations(function, *, ok: int, failed: int) -> None:
    rows = [("ok", 200)] * ok + [("timeout", 504)] * (failed // 2)
    rows += [("ok", 500)] * (failed - failed // 2)  # the function's own 5xx is a failure too
    Invocation.objects.bulk_create(
        Invocation(org=function.org, function=function, trigger="http", exit_reason=reason,
                   status=status)
        for reason, status in rows
    )  # fmt: skip


def _open(org) -> list[Alert]:
    with tenant_context(TenantContext(platform_admin=True)):
        return list(Alert.objects.filter(org=org).exclude(state=AlertState.RESOLVED))


def test_a_failing_function_fires_for_its_org_and_resolves():
    owner = UserFactory()
    org = tenant_services.org_create(actor=owner, name="Org A", slug="org-a")
    with tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner")):
        membership = org.memberships.get()
        project = tenant_services.project_create(membership=membership, name="app")
        failing, healthy, quiet = (
            _function(org, project, name) for name in ("failing", "healthy", "quiet")
        )
        _invocations(failing, ok=5, failed=25)
        _invocations(healthy, ok=30, failed=2)
        _invocations(quiet, ok=0, failed=5)  # all failed, but too few to judge
    alerts.evaluate()
    (alert,) = _open(org)
    assert alert.dedup_key == f"function_error_rate:{failing.pk}"
    assert "function failing: 25 of 30 invocations failed" in alert.summary
    assert alert.value == pytest.approx(25 / 30)

    # An hour later nothing failed in the window: the alert resolves.
    alerts.evaluate(now=timezone.now() + timedelta(hours=1))
    assert _open(org) == []
