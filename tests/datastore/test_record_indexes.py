"""Declared indexes of a records collection: partial expression indexes built after commit."""

from django.db import connections, transaction

from datastore import services as data_services
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory


def test_declared_indexes_are_built_per_collection(django_db_setup, committed):
    """Partial expression indexes, built by the owner after commit, follow the declaration."""
    owner = UserFactory()
    org = services.org_create(actor=owner, name="ix", slug="ix")
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        membership = org.memberships.get()
        project = services.project_create(membership=membership, name="p")
        collection = data_services.collection_create(
            membership=membership, project=project, name="c", indexes=["n", "a.b"]
        )

    def indexes():
        with connections["owner"].cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'datastore_record' "
                "AND indexdef LIKE %s ORDER BY 1",
                [f"%{collection.id}%"],
            )
            return [row[0] for row in cursor.fetchall()]

    built = indexes()
    assert len(built) == 2
    assert any("'{a,b}'" in d for d in built) and any("'{n}'" in d for d in built)
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        data_services.collection_update(membership=membership, collection=collection, indexes=["n"])
    assert len(indexes()) == 1
