"""Orgs, users and record collections for realtime tests. Everything commits for real:
consumers read the database from other threads (and, in the two-process test, from other
processes)."""

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.db import connections

from datastore import services as data_services
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
    developer_a: object
    viewer_a: object
    viewer2_a: object
    owner_b: object
    project_a: object  # org A's project "app"
    tasks_a: object  # its record collection "tasks", every member's rows
    private_a: object  # its record collection "private", owner-only rows

    def token(self, user, **claims) -> str:
        """A live session's access token; made on a thread so async tests may call it."""
        return in_thread(access_token, user, **claims)

    @contextmanager
    def acting(self, user, org=None):
        """``user``'s membership, in a transaction with their tenant context (as a request)."""
        org = org or self.org_a
        with tenant_context(TenantContext(org_id=org.id, user_id=user.pk)):
            yield Membership.objects.select_related("org", "user").get(org=org, user=user)

    @staticmethod
    def member(actor, user):
        """``user``'s membership in the org ``actor`` (from ``acting``) acts in."""
        return Membership.objects.select_related("org", "user").get(org=actor.org, user=user)


def in_thread(function, *args, **kwargs):
    """Run a synchronous database call on a thread of its own (callable from async tests)."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()  # give the thread's connection back to the pool

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def add_member(org, owner, user, role):
    with tenant_context(TenantContext(org_id=org.id, user_id=owner.pk)):
        actor = Membership.objects.select_related("org", "user").get(org=org, user=owner)
        services.member_add(membership=actor, email=user.email, role=role)


@pytest.fixture
def world(django_db_setup, committed):
    # No usable password: these users authenticate with tokens, and hashing is slow.
    users = [UserFactory(password=None) for _ in range(6)]
    owner_a, admin_a, developer_a, viewer_a, viewer2_a, owner_b = users
    org_a = services.org_create(actor=owner_a, name="Org A", slug="org-a")
    org_b = services.org_create(actor=owner_b, name="Org B", slug="org-b")
    add_member(org_a, owner_a, admin_a, Role.ADMIN)
    add_member(org_a, owner_a, developer_a, Role.DEVELOPER)
    add_member(org_a, owner_a, viewer_a, Role.VIEWER)
    add_member(org_a, owner_a, viewer2_a, Role.VIEWER)
    with tenant_context(TenantContext(org_id=org_a.id, user_id=owner_a.pk)):
        owner = Membership.objects.select_related("org", "user").get(org=org_a, user=owner_a)
        project = services.project_create(membership=owner, name="app")
        tasks = data_services.collection_create(membership=owner, project=project, name="tasks")
        private = data_services.collection_create(
            membership=owner, project=project, name="private", access="owner"
        )
    return World(
        org_a, org_b, owner_a, admin_a, developer_a, viewer_a, viewer2_a, owner_b,
        project, tasks, private,
    )  # fmt: skip


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


def records_url(world, collection) -> str:
    project = world.project_a.id
    return f"/api/v1/orgs/org-a/projects/{project}/collections/{collection.name}/records/"


@pytest.fixture
def tasks(world, client_for):
    return Tasks(
        str(world.tasks_a.id), records_url(world, world.tasks_a), client_for(world.owner_a)
    )
