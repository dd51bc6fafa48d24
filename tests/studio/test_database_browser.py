"""The Studio database browser at scale: 10,000 records paged by cursor and filtered, and an
org admin limited to their own org."""

import re

import pytest

from datastore import services as data_services
from datastore.models import Collection
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/studio/datastore/collection/browser/"
RECORDS = 10_000


@pytest.fixture
def big_collection(org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    membership = org.memberships.select_related("org", "user").get(user=user)
    project = services.project_create(membership=membership, name="shop")
    collection = data_services.collection_create(
        membership=membership, project=project, name="orders"
    )
    for start in range(0, RECORDS, 500):
        data_services.record_bulk_create(
            membership=membership,
            collection=collection,
            items=[
                {"n": n, "kind": "big" if n % 10 == 0 else "small"}
                for n in range(start, start + 500)
            ],
        )
    set_tenant_context(TenantContext())
    return project, collection


def test_browser_pages_through_10000_records_and_filters(client, big_collection, org):
    project, collection = big_collection
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    params = {"org": org.slug, "project": project.id, "store": "records", "collection": "orders"}
    seen: set[str] = set()
    cursor = None
    pages = 0
    while True:
        response = client.get(URL, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        body = response.content.decode()
        assert f"{RECORDS} matches" in body
        ids = re.findall(r"&(?:amp;)?record=([0-9a-f-]{36})", body)
        assert ids and not seen.intersection(ids)
        seen.update(ids)
        pages += 1
        found = re.search(r"cursor=([^\"&]+)\">Next page", body)
        if not found:
            break
        cursor = found.group(1)
    assert len(seen) == RECORDS and pages == RECORDS // 25

    filtered = client.get(URL, {**params, "filter": 'kind:eq:"big"'}).content.decode()
    assert f"{RECORDS // 10} matches" in filtered
    assert '"kind": "small"' not in filtered


def test_org_admin_browses_only_their_org(client, big_collection, org, user, other_org):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    org_admin = UserFactory()
    services.member_add(
        membership=org.memberships.select_related("org", "user").get(user=user),
        email=org_admin.email,
        role=Role.ADMIN,
    )
    set_tenant_context(TenantContext())
    client.force_login(org_admin)
    index = client.get(URL).content.decode()
    assert org.slug in index and other_org.slug not in index
    assert client.get(URL, {"org": other_org.slug}).status_code == 404
    project, _ = big_collection
    page = client.get(
        URL, {"org": org.slug, "project": project.id, "store": "records", "collection": "orders"}
    )
    assert f"{RECORDS} matches" in page.content.decode()
    assert Collection.objects.count() == 0  # outside the browser, no org context: RLS hides all
