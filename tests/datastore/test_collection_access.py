"""Changing a collection's access rewrites every row's owner_only flag, which RLS lets only
org owners and admins do: for anyone else it is a 403, not a 500 (or, from "owner" to
"org", a silent half-done update of only the rows they can see)."""

import pytest

from tenants.constants import CHANGE_ACCESS_RULES, PRIVILEGED_ROLES, ROLE_PERMISSIONS, Role
from tenants.permissions import roles_with_perm

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/orgs/{project.org.slug}/projects/{project.id}/collections/items/"


@pytest.fixture
def items(membership_a, project_a, make_collection, make_records):
    collection = make_collection(membership_a, project_a)
    make_records(membership_a, collection, [{"n": 1}, {"n": 2}])  # owned by the org owner
    return collection


def test_a_developer_cannot_change_access_but_may_change_the_schema(
    items, project_a, add_member, client_for
):
    developer = client_for(add_member(Role.DEVELOPER).user)
    response = developer.patch(url(project_a), {"access": "owner"}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"
    schema = {"type": "object"}
    assert (
        developer.patch(url(project_a), {"json_schema": schema}, format="json").status_code == 200
    )


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_owners_and_admins_change_access_for_every_row(
    items, project_a, add_member, client_for, user, role
):
    actor = user if role == Role.OWNER else add_member(role).user
    client = client_for(actor)
    response = client.patch(url(project_a), {"access": "owner"}, format="json")
    assert response.status_code == 200, response.content
    assert client.patch(url(project_a), {"access": "org"}, format="json").status_code == 200


def test_access_changes_need_the_permission_the_rls_policy_mirrors(
    items, project_a, add_member, client_for, monkeypatch
):
    """``CHANGE_ACCESS_RULES`` decides, and it is held by exactly the roles the RLS policy lets
    see every row (``PRIVILEGED_ROLES``), so the rewrite of every row can succeed."""
    assert set(roles_with_perm(CHANGE_ACCESS_RULES)) == set(PRIVILEGED_ROLES)
    admin = client_for(add_member(Role.ADMIN).user)
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ADMIN, ROLE_PERMISSIONS[Role.ADMIN] - {CHANGE_ACCESS_RULES}
    )
    response = admin.patch(url(project_a), {"access": "owner"}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"
