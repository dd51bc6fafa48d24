"""A project with end users, for the client-app rules: ``todos`` (records) written by the
end users A and B and by the secret key, and helpers to act as each caller."""

import pytest

from access import services as access_services
from access.constants import SERVICE_ROLE
from datastore import services as data_services
from endusers.models import EndUser
from tenants.context import TenantContext, set_tenant_context
from tests.datastore.conftest import (  # noqa: F401 (fixtures used here)
    add_member,
    as_member,
    make_collection,
    membership_a,
    membership_b,
    project_a,
    project_b,
)


def as_client(project, role, end_user=None, roles=()):
    set_tenant_context(
        TenantContext(
            org_id=project.org_id,
            project_id=project.id,
            client_role=role,
            end_user_id=end_user.id if end_user else None,
            end_user_roles=tuple(roles),
        )
    )


@pytest.fixture
def make_end_user():
    def make(project, email, **fields):
        as_client(project, SERVICE_ROLE)
        end_user = EndUser.objects.create(
            org_id=project.org_id, project=project, email=email, **fields
        )
        set_tenant_context(TenantContext())
        return end_user

    return make


@pytest.fixture
def set_rule(membership_a):
    def set_(project, collection, operation, client_role, kind, **kw):
        as_member(membership_a)
        rule = access_services.rule_set(
            membership=membership_a,
            project=project,
            resource_type="collection",
            resource_id=collection.id,
            operation=operation,
            client_role=client_role,
            kind=kind,
            **kw,
        )
        set_tenant_context(TenantContext())
        return rule

    return set_


@pytest.fixture
def todos(membership_a, project_a):
    as_member(membership_a)
    collection = data_services.collection_create(
        membership=membership_a, project=project_a, name="todos"
    )
    set_tenant_context(TenantContext())
    return collection
