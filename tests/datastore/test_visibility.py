"""``datastore.visibility.record_visible`` is the records' row-level security policy.

For every role, every viewing member and every row (each access rule, each owner), the Python
twin answers what PostgreSQL shows a transaction of the application role with that user and
role, with no filter in the query. Realtime decides change events with the twin, so this is
what keeps a socket from seeing what the data API would not show.
"""

import pytest

from datastore import services as data_services
from datastore.models import Record
from datastore.visibility import record_visible
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db


def test_the_twin_answers_what_the_policy_shows(org, membership_a, add_member, project_a):
    developer = add_member(Role.DEVELOPER)
    as_member(membership_a)
    collections = {
        access: data_services.collection_create(
            membership=membership_a, project=project_a, name=f"c_{access}", access=access
        )
        for access in ("org", "owner")
    }
    for writer in (membership_a, developer):
        as_member(writer)
        for collection in collections.values():
            record = data_services.record_create(membership=writer, collection=collection, data={})
            # The event a write announces carries the flag the trigger stored.
            assert record.owner_only is (collection.access == "owner")
    set_tenant_context(TenantContext(platform_admin=True))
    rows = list(Record.objects.values("pk", "owner_id", "owner_only"))
    assert len(rows) == 4 and sum(r["owner_only"] for r in rows) == 2

    seen = {}
    for role in Role.values:
        for viewer in (membership_a.user, developer.user):
            set_tenant_context(TenantContext(org_id=org.id, user_id=viewer.pk, role=role))
            shown = set(Record.objects.values_list("pk", flat=True))
            twin = {
                r["pk"]
                for r in rows
                if record_visible(
                    role=role, user_id=viewer.pk, owner_id=r["owner_id"], owner_only=r["owner_only"]
                )
            }
            assert shown == twin, (role, viewer)
            seen[(role, viewer == developer.user)] = len(shown)
    # Not a vacuous agreement: the rule narrows some role/user pairs and not others.
    assert seen == {
        (Role.OWNER, False): 4, (Role.OWNER, True): 4,
        (Role.ADMIN, False): 4, (Role.ADMIN, True): 4,
        (Role.DEVELOPER, False): 3, (Role.DEVELOPER, True): 3,
        (Role.VIEWER, False): 3, (Role.VIEWER, True): 3,
    }  # fmt: skip


def test_a_non_member_sees_nothing():
    for owner_only in (False, True):
        assert not record_visible(role=None, user_id=1, owner_id=1, owner_only=owner_only)
