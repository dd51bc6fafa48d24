"""Orgs and users for realtime tests. Everything commits for real: consumers read the database
from other threads (and, in the two-process test, from other processes)."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.db import connections

from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, tenant_context
from tenants.models import Membership
from tests.factories import UserFactory
from tests.tokens import access_token


@dataclass
class World:
    org_a: object
    org_b: object
    owner_a: object  # org A's owner
    admin_a: object
    viewer_a: object
    viewer2_a: object
    owner_b: object

    def token(self, user, **claims) -> str:
        """A live session's access token; made on a thread so async tests may call it."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(_in_thread, access_token, user, **claims).result()


def _in_thread(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()  # give the thread's connection back to the pool


def _add(org, owner, user, role):
    with tenant_context(TenantContext(org_id=org.id, user_id=owner.pk)):
        actor = Membership.objects.select_related("org", "user").get(org=org, user=owner)
        services.member_add(membership=actor, email=user.email, role=role)


@pytest.fixture
def world(django_db_setup, committed):
    # No usable password: these users authenticate with tokens, and hashing is slow.
    owner_a, admin_a, viewer_a, viewer2_a, owner_b = (UserFactory(password=None) for _ in range(5))
    org_a = services.org_create(actor=owner_a, name="Org A", slug="org-a")
    org_b = services.org_create(actor=owner_b, name="Org B", slug="org-b")
    _add(org_a, owner_a, admin_a, Role.ADMIN)
    _add(org_a, owner_a, viewer_a, Role.VIEWER)
    _add(org_a, owner_a, viewer2_a, Role.VIEWER)
    return World(org_a, org_b, owner_a, admin_a, viewer_a, viewer2_a, owner_b)


@dataclass
class Tasks:
    """A real record collection of org A, written through the REST API as its owner."""

    collection_id: str
    url: str
    client: object

    def create(self, *items: dict) -> list[str]:
        response = self.client.post(self.url, {"items": list(items)}, format="json")
        assert response.status_code == 201, response.content
        return [r["id"] for r in response.json()["results"]]

    def listed(self, filters) -> tuple[int, set[str]]:
        """What the data API lists for ``filters``: (status, ids)."""
        response = self.client.get(self.url, {"filter": filters, "limit": 200})
        if response.status_code != 200:
            return response.status_code, set()
        body = response.json()
        assert body["next_cursor"] is None
        return 200, {r["id"] for r in body["results"]}


@pytest.fixture
def tasks(world, client_for):
    from datastore import services as data_services

    with tenant_context(TenantContext(org_id=world.org_a.id, user_id=world.owner_a.pk)):
        owner = Membership.objects.select_related("org", "user").get(
            org=world.org_a, user=world.owner_a
        )
        project = services.project_create(membership=owner, name="app")
        collection = data_services.collection_create(
            membership=owner, project=project, name="tasks"
        )
    url = f"/api/v1/orgs/org-a/projects/{project.id}/collections/tasks/records/"
    return Tasks(str(collection.id), url, client_for(world.owner_a))
