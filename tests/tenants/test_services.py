"""Org, member and project services: roles, the last-owner rule, object-level grants."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tenants.models import Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def as_member(org, user) -> Membership:
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    return Membership.objects.select_related("org", "user").get(org=org, user=user)


def test_creator_becomes_owner(org, user):
    assert as_member(org, user).role == Role.OWNER


def test_add_member_change_role_and_remove(org, user):
    owner = as_member(org, user)
    newcomer = UserFactory()
    member = services.member_add(membership=owner, email=newcomer.email, role=Role.DEVELOPER)
    assert member.role == Role.DEVELOPER
    services.member_change_role(membership=owner, target=member, role=Role.ADMIN)
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    services.member_remove(membership=owner, target=member)
    assert not Membership.objects.filter(org=org, user=newcomer).exists()


def test_adding_an_unknown_email_or_a_member_twice_is_invalid(org, user):
    owner = as_member(org, user)
    with pytest.raises(ValidationError):
        services.member_add(membership=owner, email="nobody@example.com")
    with pytest.raises(ValidationError):
        services.member_add(membership=owner, email=user.email)


def test_last_owner_cannot_be_demoted_or_removed(org, user):
    owner = as_member(org, user)
    with pytest.raises(ValidationError, match="last owner"):
        services.member_change_role(membership=owner, target=owner, role=Role.ADMIN)
    with pytest.raises(ValidationError, match="last owner"):
        services.member_remove(membership=owner, target=owner)
    second = UserFactory()
    services.member_add(membership=owner, email=second.email, role=Role.OWNER)
    services.member_change_role(membership=owner, target=owner, role=Role.ADMIN)
    assert Membership.objects.get(org=org, user=user).role == Role.ADMIN


def test_admin_cannot_touch_owners_and_viewer_cannot_manage(org, user):
    owner = as_member(org, user)
    admin_user, viewer_user = UserFactory(), UserFactory()
    services.member_add(membership=owner, email=admin_user.email, role=Role.ADMIN)
    services.member_add(membership=owner, email=viewer_user.email, role=Role.VIEWER)
    admin = as_member(org, admin_user)
    with pytest.raises(PermissionDenied):
        services.member_change_role(membership=admin, target=owner, role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.member_add(membership=admin, email=UserFactory().email, role=Role.OWNER)
    viewer = as_member(org, viewer_user)
    with pytest.raises(PermissionDenied):
        services.member_add(membership=viewer, email=UserFactory().email)
    with pytest.raises(PermissionDenied):
        services.project_create(membership=viewer, name="nope")


def test_member_may_leave(org, user):
    owner = as_member(org, user)
    leaver = UserFactory()
    services.member_add(membership=owner, email=leaver.email)
    membership = as_member(org, leaver)
    services.member_remove(membership=membership, target=membership)
    assert not Membership.objects.filter(org=org, user=leaver).exists()


def test_object_level_grant_lifts_a_viewer_for_one_project(org, user):
    owner = as_member(org, user)
    p1 = services.project_create(membership=owner, name="p1")
    p2 = services.project_create(membership=owner, name="p2")
    viewer_user = UserFactory()
    services.member_add(membership=owner, email=viewer_user.email, role=Role.VIEWER)
    services.project_grant(membership=owner, project=p1, user=viewer_user, perm="change_project")
    viewer = as_member(org, viewer_user)
    services.project_update(membership=viewer, project=p1, description="edited")
    with pytest.raises(PermissionDenied):
        services.project_update(membership=viewer, project=p2, description="edited")


def test_org_slug_must_be_unique(org, other_user):
    with pytest.raises(ValidationError):
        services.org_create(actor=other_user, name="Again", slug=org.slug)
