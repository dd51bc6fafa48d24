"""Deletes through the composite (org_id, ...) foreign keys of the tenant tables.

The database's keys between tenant tables are ``(org_id, x_id) -> (org_id, id)`` with no ON
DELETE action (``tenants.distribution``); Django deletes children in Python. These tests fill
every tenant table for one project, delete an org, a project, a collection or an end user
through the services, and then check the deferred constraints as COMMIT would
(``check_constraints``: SET CONSTRAINTS ALL IMMEDIATE).
"""

import pytest
from django.db import IntegrityError, connection, transaction

from access.models import AccessRule
from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery
from datastore import services as datastore_services
from datastore.models import Collection, Record
from endusers.models import EndUser
from endusers.services import accounts
from functions.models import Function, FunctionVersion, Invocation
from storage.models import Bucket, StoredObject
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.tenants.test_distributable_schema import tenant_tables

pytestmark = pytest.mark.django_db

MODELS = [
    AccessRule,
    Collection,
    Record,
    EndUser,
    Bucket,
    StoredObject,
    Webhook,
    WebhookDelivery,
    ScheduledJob,
    JobRun,
    Function,
    FunctionVersion,
    Invocation,
]


@pytest.fixture
def membership(org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role="owner"))
    return org.memberships.get(user=user)


@pytest.fixture
def filled(org, user, membership):
    """One row in every tenant table, all of one project."""
    project = services.project_create(membership=membership, name="app")
    rows = {"project": project}
    on = {"org": org, "project": project}
    rows["end_user"] = EndUser.objects.create(**on, email="ann@example.com")
    rows["collection"] = collection = Collection.objects.create(**on, name="todos")
    rows["record"] = Record.objects.create(
        **on, collection=collection, owner=user, end_user=rows["end_user"], data={"t": 1}
    )
    AccessRule.objects.create(
        **on, resource_type="collection", resource_id=collection.id, operation="select",
        client_role="anon",
    )  # fmt: skip
    bucket = Bucket.objects.create(**on, name="files")
    rows["object"] = StoredObject.objects.create(
        org=org, bucket=bucket, key="a.txt", size=1, content_type="text/plain",
        sha256="0" * 64, blob="blob", owner=user, end_user=rows["end_user"],
    )  # fmt: skip
    rows["webhook"] = webhook = Webhook.objects.create(
        **on, url="http://127.0.0.1:9/hook", secret="s", events=["insert"]
    )
    WebhookDelivery.objects.create(org=org, webhook=webhook, event="insert", payload={})
    job = ScheduledJob.objects.create(**on, name="nightly", schedule="0 3 * * *", secret="s")
    JobRun.objects.create(org=org, job=job)
    function = Function.objects.create(**on, name="hello")
    version = FunctionVersion.objects.create(
        org=org, function=function, number=1, source="export default () => 1", source_hash="h"
    )
    function.active_version = version
    function.save(update_fields=["active_version"])
    Invocation.objects.create(
        org=org, function=function, version=version, trigger="test", exit_reason="ok"
    )
    connection.check_constraints()
    return rows


def _counts(org) -> dict[str, int]:
    return {model.__name__: model.objects.filter(org_id=org.id).count() for model in MODELS}


@pytest.mark.django_db(databases=["default", "owner"])
def test_the_fixture_fills_every_tenant_table(filled, org):
    assert {model._meta.db_table for model in MODELS} == tenant_tables()
    assert set(_counts(org).values()) == {1}


def test_deleting_an_org_deletes_every_tenant_row(filled, org, membership):
    services.org_delete(membership=membership)
    connection.check_constraints()
    set_tenant_context(TenantContext(platform_admin=True))
    assert set(_counts(org).values()) == {0}


def test_deleting_a_project_deletes_its_rows(filled, org, membership):
    services.project_delete(membership=membership, project=filled["project"])
    connection.check_constraints()
    assert set(_counts(org).values()) == {0}


def test_deleting_a_collection_deletes_its_records_only(filled, org, membership):
    datastore_services.collection_delete(membership=membership, collection=filled["collection"])
    connection.check_constraints()
    counts = _counts(org)
    assert counts.pop("Collection") == counts.pop("Record") == 0
    assert set(counts.values()) == {1}


def test_deleting_an_end_user_nulls_the_end_user_only(filled, org, membership):
    accounts.end_user_delete(
        project=filled["project"], end_user=filled["end_user"], membership=membership
    )
    connection.check_constraints()
    for row in (filled["record"], filled["object"]):
        row.refresh_from_db()
        assert (row.org_id, row.end_user_id) == (org.id, None)


def test_a_child_cannot_point_at_another_orgs_parent(filled, other_org):
    # As platform staff, whom the policies let write into any org: the key itself refuses.
    set_tenant_context(TenantContext(platform_admin=True))
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(
            org=other_org, webhook=filled["webhook"], event="insert", payload={}
        )
        connection.check_constraints()
