"""Fixtures for the data services: two orgs, each with a project, and members by role."""

import pytest

from datastore import services as data_services
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tenants.models import Membership
from tests.factories import UserFactory


def as_member(membership: Membership) -> None:
    set_tenant_context(
        TenantContext(org_id=membership.org_id, user_id=membership.user_id, role=membership.role)
    )


@pytest.fixture
def membership_a(org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    membership = Membership.objects.select_related("org", "user").get(org=org, user=user)
    return membership


@pytest.fixture
def membership_b(other_org, other_user):
    set_tenant_context(TenantContext(org_id=other_org.id, user_id=other_user.pk))
    membership = Membership.objects.select_related("org", "user").get(
        org=other_org, user=other_user
    )
    set_tenant_context(TenantContext())
    return membership


@pytest.fixture
def add_member(org, membership_a):
    """A new user added to org A with ``role``."""

    def make(role: str) -> Membership:
        new_user = UserFactory()
        as_member(membership_a)
        member = services.member_add(membership=membership_a, email=new_user.email, role=role)
        set_tenant_context(TenantContext())
        return member

    return make


@pytest.fixture
def project_a(membership_a):
    as_member(membership_a)
    project = services.project_create(membership=membership_a, name="app-a")
    set_tenant_context(TenantContext())
    return project


@pytest.fixture
def project_b(membership_b):
    as_member(membership_b)
    project = services.project_create(membership=membership_b, name="app-b")
    set_tenant_context(TenantContext())
    return project


@pytest.fixture
def make_collection():
    def make(membership, project, name="items", **options):
        as_member(membership)
        collection = data_services.collection_create(
            membership=membership, project=project, name=name, **options
        )
        set_tenant_context(TenantContext())
        return collection

    return make


@pytest.fixture
def make_records():
    def make(membership, collection, items):
        as_member(membership)
        records = data_services.record_bulk_create(
            membership=membership, collection=collection, items=items
        )
        set_tenant_context(TenantContext())
        return records

    return make
