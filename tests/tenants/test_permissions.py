"""One map from roles to permissions, one check, and every org-scoped view and service using it.

The URL conf is walked, so a new org-scoped view that forgets a method, or names a permission
no role has, fails here.
"""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, URLResolver, get_resolver

from compute import services as compute_services
from observability import alerts
from observability import services as obs_services
from observability.models import Alert
from storage import services as storage_services
from tenants import services
from tenants.api.base import OrgView
from tenants.constants import ROLE_PERMISSIONS, Role
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HANDLERS = ("get", "post", "put", "patch", "delete")


def _view_classes(resolver=None):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _view_classes(entry)
        elif isinstance(entry, URLPattern) and hasattr(entry.callback, "view_class"):
            yield entry.pattern, entry.callback.view_class


def test_every_org_scoped_route_is_an_org_view():
    for pattern, view in _view_classes():
        if "(?P<org>" in str(pattern):
            assert issubclass(view, OrgView), (str(pattern), view)


def test_every_handler_of_an_org_view_names_a_permission_some_role_has():
    granted = set().union(*ROLE_PERMISSIONS.values())
    checked = 0
    for pattern, view in _view_classes():
        if not issubclass(view, OrgView):
            continue
        for method in HANDLERS:
            if hasattr(view, method):
                assert method in view.required_perms, (str(pattern), view.__name__, method)
                perm = view.required_perms[method]
                assert perm is None or perm in granted, (view.__name__, method, perm)
                checked += 1
    assert checked > 40


def test_roles_only_add_permissions_on_the_way_up():
    order = [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER]
    for lower, higher in zip(order, order[1:], strict=False):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher], (lower, higher)


def test_head_is_checked_as_get(org, user, client_for):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    viewer = UserFactory()
    services.member_add(membership=org.memberships.get(user=user), email=viewer.email)
    set_tenant_context(TenantContext())
    # Invitations are for members managers only; HEAD must not slip past as "no permission".
    assert client_for(viewer).head("/api/v1/orgs/org-a/invitations/").status_code == 403
    assert client_for(user).head("/api/v1/orgs/org-a/invitations/").status_code == 200


@pytest.fixture
def viewer_and_owner(org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    owner = org.memberships.select_related("org", "user").get(user=user)
    viewer = services.member_add(membership=owner, email=UserFactory().email)
    return viewer, owner


def test_services_refuse_a_viewer_whoever_calls_them(viewer_and_owner):
    viewer, owner = viewer_and_owner
    project = services.project_create(membership=owner, name="p")
    channel = obs_services.channel_create(
        membership=owner, name="c", kind="slack", target="http://127.0.0.1:9/h"
    )
    hook = compute_services.webhook_create(
        membership=owner, project=project, url="http://127.0.0.1:9/w", events=["insert"]
    )
    job = compute_services.job_create(
        membership=owner,
        project=project,
        name="j",
        schedule="0 3 * * *",
        url="http://127.0.0.1:9/j",
    )
    bucket = storage_services.bucket_create(membership=owner, project=project, name="b")
    assert alerts.raise_event("backup_failed", key="k", org_id=owner.org_id) == "fired"
    set_tenant_context(TenantContext(org_id=owner.org_id, platform_admin=True))
    alert = Alert.objects.get(org_id=owner.org_id)
    set_tenant_context(TenantContext(org_id=owner.org_id, user_id=viewer.user_id, role="viewer"))
    refused = {
        "channel_create": lambda: obs_services.channel_create(
            membership=viewer, name="x", kind="slack", target="http://127.0.0.1:9/x"
        ),
        "channel_delete": lambda: obs_services.channel_delete(membership=viewer, channel=channel),
        "channel_test": lambda: obs_services.channel_test(membership=viewer, channel=channel),
        "alert_acknowledge": lambda: obs_services.alert_acknowledge(
            alert=alert, actor=viewer.user, membership=viewer
        ),
        "webhook_update": lambda: compute_services.webhook_update(
            membership=viewer, webhook=hook, active=False
        ),
        "job_run_now": lambda: compute_services.job_run_now(membership=viewer, job=job),
        "bucket_delete": lambda: storage_services.bucket_delete(membership=viewer, bucket=bucket),
        "project_delete": lambda: services.project_delete(membership=viewer, project=project),
    }
    for name, call in refused.items():
        with pytest.raises(PermissionDenied):
            call()
            pytest.fail(f"{name} let a viewer through")
    # A platform staff member may acknowledge outside any org (the Studio); a plain user not.
    with pytest.raises(PermissionDenied):
        obs_services.alert_acknowledge(alert=alert, actor=viewer.user)
