"""Row-level security with real commits: what other connections and transactions see."""

import uuid

from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from tenants import services
from tenants.context import TenantContext, set_tenant_context


def test_rows_hidden_from_the_app_role_exist_for_the_owner(committed):
    django_user_model = get_user_model()
    owner_a = django_user_model.objects.create_user("a@example.com", "a@example.com")
    owner_b = django_user_model.objects.create_user("b@example.com", "b@example.com")
    for actor, slug in ((owner_a, "a"), (owner_b, "b")):
        org = services.org_create(actor=actor, name=slug, slug=slug)
        with transaction.atomic():
            set_tenant_context(TenantContext(org_id=org.id, user_id=actor.pk))
            services.project_create(membership=org.memberships.get(), name=f"{slug}-project")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenants_project")
        assert cursor.fetchone()[0] == 0
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute("SET LOCAL row_security = off")
        cursor.execute("SELECT count(*) FROM tenants_project")
        assert cursor.fetchone()[0] == 2


def test_context_dies_with_the_transaction(committed):
    org_id = uuid.uuid4()
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org_id))
    # Same pooled connection, next transaction: nothing carried over.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.org_id', true)")
        assert cursor.fetchone()[0] in ("", None)
