"""The pieces of replica routing that need no standby: a write during a replica-routed request
opens the primary's transaction with the request's context (``PrimaryOnDemand``), the router
sends writes of replica-read objects to the primary, the route/method rules of ``choose``,
and which database errors count as "unavailable" (503) rather than a failed statement (500).
"""

import psycopg
import pytest
from django.db import OperationalError, connections
from django.test import RequestFactory

from platform_site.errors import database_unavailable
from tenants import replicas, services
from tenants.context import TenantContext, tenant_context
from tenants.models import Project
from tenants.routers import ReplicaRouter
from tests.factories import UserFactory


@pytest.fixture
def project(committed):
    owner = UserFactory()
    org = services.org_create(actor=owner, name="Replica", slug="replica")
    context = TenantContext(org_id=org.id, user_id=owner.pk, role="owner")
    with tenant_context(context):
        project = services.project_create(membership=org.memberships.get(), name="app")
    return project, context


def _description(project) -> str:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT description FROM tenants_project WHERE id = %s", [project.id])
        return cursor.fetchone()[0]


def test_a_write_outside_any_transaction_opens_the_primary_with_the_request_context(project):
    project, context = project
    primary = connections["default"]
    on_demand = replicas.PrimaryOnDemand(context).install()
    try:
        assert replicas.read_alias() == replicas.REPLICA
        assert not primary.in_atomic_block
        # RLS lets the owner's update through only if the context is set on the primary.
        assert Project.objects.filter(pk=project.pk).update(description="touched") == 1
        assert primary.in_atomic_block  # the request's primary transaction, still open
    finally:
        on_demand.finish(failed=False)
    assert not primary.in_atomic_block and replicas.read_alias() == replicas.PRIMARY
    assert _description(project) == "touched"

    on_demand = replicas.PrimaryOnDemand(context).install()
    Project.objects.filter(pk=project.pk).update(description="rolled back")
    on_demand.finish(failed=True)  # a 5xx: the primary's writes go with it
    assert _description(project) == "touched"

    # A caller's own transaction gets the request context at its first statement, too.
    on_demand = replicas.PrimaryOnDemand(context).install()
    try:
        from django.db import transaction

        with transaction.atomic():
            assert Project.objects.filter(pk=project.pk).update(description="own") == 1
    finally:
        on_demand.finish(failed=False)
    assert _description(project) == "own"

    # Without a context RLS still holds on the primary: nothing matches.
    on_demand = replicas.PrimaryOnDemand(TenantContext()).install()
    try:
        assert Project.objects.filter(pk=project.pk).update(description="nobody") == 0
    finally:
        on_demand.finish(failed=False)


def test_router_writes_replica_objects_to_the_primary_and_reads_where_told():
    router = ReplicaRouter()
    instance = Project()
    instance._state.db = replicas.REPLICA
    assert router.db_for_write(Project, instance=instance) == replicas.PRIMARY
    assert router.db_for_read(Project) is None  # outside a replica request: Django decides
    with replicas.reading_from(replicas.REPLICA):
        assert router.db_for_read(Project) == replicas.REPLICA
        owned = Project()
        owned._state.db = "owner"
        assert router.db_for_read(Project, instance=owned) is None
        with replicas.reading_from("owner"):  # a tenant_context(using="owner") block
            assert router.db_for_read(Project) is None
    other = Project()
    other._state.db = replicas.PRIMARY
    assert router.allow_relation(instance, other)


@replicas.lag_tolerant
def _tolerant(request):
    raise AssertionError("not called")


def _strict(request):
    raise AssertionError("not called")


def test_choose_without_a_replica_is_always_the_primary():
    request = RequestFactory().get("/client/v1/collections/x/records/")
    assert not replicas.configured()
    assert replicas.choose(request, _tolerant) == replicas.PRIMARY
    assert replicas.replica_status().state == "not_configured"


def test_choose_needs_a_read_of_a_lag_tolerant_view(monkeypatch):
    monkeypatch.setattr(replicas, "configured", lambda: True)  # the alias exists, say
    assert replicas.choose(RequestFactory().post("/x/"), _tolerant) == replicas.PRIMARY
    assert replicas.choose(RequestFactory().get("/x/"), _strict) == replicas.PRIMARY


def _wrapped(psycopg_error: Exception) -> OperationalError:
    try:
        try:
            raise psycopg_error
        except Exception as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        return wrapped


def test_unavailable_means_the_connection_not_the_statement():
    assert database_unavailable(_wrapped(psycopg.OperationalError("connection refused")))
    assert database_unavailable(_wrapped(psycopg.errors.AdminShutdown("shutting down")))
    assert database_unavailable(_wrapped(psycopg.errors.CannotConnectNow("starting up")))
    assert not database_unavailable(_wrapped(psycopg.errors.QueryCanceled("timeout")))
    assert not database_unavailable(_wrapped(psycopg.errors.LockNotAvailable("lock")))
    assert not database_unavailable(ValueError("not a database error"))
    assert not database_unavailable(None)


@pytest.mark.urls("tests.tenants.unavailable_urls")
@pytest.mark.django_db(databases=["default", "owner"])
@pytest.mark.parametrize("debug", [False, True])
def test_an_unreachable_database_is_a_503_in_the_family_shape_not_an_error_group(settings, debug):
    from django.test import Client

    from observability.models import ErrorGroup

    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    for _ in range(3):
        native = client.get("/api/v1/down")
        assert native.status_code == 503
        assert native["Retry-After"] == str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
        assert native.json()["error"]["code"] == "database_unavailable"
    # (The Supabase families' shapes: test_replicas.py, through a live server and its keys.)
    page = client.get("/studio-down/")
    assert page.status_code == 503 and "Retry-After" in page
    assert not ErrorGroup.objects.using("owner").exists()


@pytest.mark.django_db
def test_without_a_replica_health_says_nothing_of_one_and_the_studio_says_not_configured(client):
    ready = client.get("/health/ready").json()
    assert "replica" not in ready and "degraded" not in ready
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/studio/health/").content.decode()
    assert 'data-field="replica.state"' in page and "not_configured" in page
