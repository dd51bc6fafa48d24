"""Session rows under row-level security, and the cost of the per-request session check."""

import uuid

import pytest
from django.utils import timezone

from authn.models import AuditEvent, Session
from authn.services import session_check, sessions
from cache import sessions as session_cache
from cache.client import get_redis
from tenants.context import TenantContext, set_tenant_context

pytestmark = pytest.mark.django_db


def test_sessions_are_visible_and_writable_by_their_own_user_only(user, other_user):
    mine = sessions.session_start(user=user)
    sessions.session_start(user=other_user)
    set_tenant_context(TenantContext(user_id=user.pk))
    # No filter at all: the policy is the guard.
    assert [str(s.pk) for s in Session.objects.all()] == [mine.session_id]
    assert Session.objects.filter(user=other_user).update(revoked_at=timezone.now()) == 0
    set_tenant_context(TenantContext())
    assert Session.objects.count() == 0
    set_tenant_context(TenantContext(platform_admin=True))
    assert Session.objects.count() == 2


def test_audit_rows_are_visible_to_their_actor(user, other_user, client_for):
    client_for(user).post("/api/v1/auth/logout-all/")
    client_for(other_user).post("/api/v1/auth/logout-all/")
    set_tenant_context(TenantContext(user_id=user.pk))
    assert set(AuditEvent.objects.values_list("actor_id", flat=True)) == {user.pk}


def test_a_cache_hit_costs_no_query_and_a_miss_one_read(
    user, django_assert_num_queries, django_assert_max_num_queries
):
    pair = sessions.session_start(user=user)
    session_cache.reconciled()
    with django_assert_num_queries(0):
        assert session_check.session_is_live(session_id=pair.session_id, user_id=user.pk)
    get_redis().delete(session_cache.key(pair.session_id))
    with django_assert_max_num_queries(5):  # savepoint, user context, SELECT, rollback(s)
        assert session_check.session_is_live(session_id=pair.session_id, user_id=user.pk)
    with django_assert_num_queries(0):  # re-cached by the miss
        assert session_check.session_is_live(session_id=pair.session_id, user_id=user.pk)


def test_unknown_or_foreign_session_is_not_live(user, other_user):
    theirs = sessions.session_start(user=other_user)
    assert not session_check.session_is_live(session_id=uuid.uuid4(), user_id=user.pk)
    assert not session_check.session_is_live(session_id=theirs.session_id, user_id=user.pk)
    get_redis().delete(session_cache.key(theirs.session_id))
    assert not session_check.session_is_live(session_id=theirs.session_id, user_id=user.pk)
