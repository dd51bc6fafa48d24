"""Who may reach the Studio: staff everywhere; an org's members (a role with ``USE_STUDIO``:
all of them by default) only their orgs; nobody else."""

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver

from tenants import services
from tenants.constants import ROLE_PERMISSIONS, USE_STUDIO, Role
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SAMPLES = {
    "org": "org-a",
    "object_id": "1",
    "app_label": "tenants",
    "content_type_id": "1",
    "user_id": "1",
    "id": "1",
    "pk": "1",
}


def studio_urls(patterns=None, prefix="/studio/"):
    """Every concrete URL under /studio/, parameters filled with sample values."""
    import re

    for entry in patterns if patterns is not None else admin.site.get_urls():
        text = str(entry.pattern).removeprefix("^").removesuffix("$")
        text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLES.get(m.group(1), "1"), text)
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLES.get(m.group(1), "1"), text)
        if isinstance(entry, URLResolver):
            yield from studio_urls(entry.url_patterns, prefix + text)
        elif isinstance(entry, URLPattern):
            yield prefix + text.replace("\\", "")


@pytest.fixture
def org_admin_setup(org, other_org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    owner = org.memberships.get(user=user)
    org_admin = UserFactory()
    member = UserFactory()
    services.member_add(membership=owner, email=org_admin.email, role=Role.ADMIN)
    services.member_add(membership=owner, email=member.email, role=Role.DEVELOPER)
    services.project_create(membership=owner, name="alpha-project")
    set_tenant_context(TenantContext())
    return {"org_admin": org_admin, "member": member}


def test_url_walk_finds_the_studio_pages():
    urls = set(studio_urls())
    for expected in ("/studio/", "/studio/redis/", "/studio/health/", "/studio/o/org-a/"):
        assert expected in urls
    assert len(urls) > 20


@pytest.fixture
def no_studio_for_developers(monkeypatch):
    """A role without ``USE_STUDIO`` (every role has it by default)."""
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.DEVELOPER, ROLE_PERMISSIONS[Role.DEVELOPER] - {USE_STUDIO}
    )


def test_anonymous_and_plain_members_reach_no_studio_page(
    client, org_admin_setup, no_studio_for_developers
):
    for who in (None, org_admin_setup["member"]):
        if who is not None:
            client.force_login(who)
        for url in studio_urls():
            if url.endswith(("/login/", "/logout/")) or "/r/" in url:
                continue  # the login page itself; logout; the view-on-site shortcut
            response = client.get(url)
            assert response.status_code in (302, 403, 404), (who, url, response.status_code)
            if response.status_code == 302:
                assert "/studio/login/" in response["Location"], url


def test_plain_member_cannot_log_in(client, org_admin_setup, org, user, no_studio_for_developers):
    member = org_admin_setup["member"]
    response = client.post(
        "/studio/login/", {"username": member.username, "password": "correct horse battery"}
    )
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    # The same password is accepted once the member is promoted to org admin.
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk))
    services.member_change_role(
        membership=org.memberships.get(user=user),
        target=org.memberships.get(user=member),
        role=Role.ADMIN,
    )
    set_tenant_context(TenantContext())
    response = client.post(
        "/studio/login/", {"username": member.username, "password": "correct horse battery"}
    )
    assert response.status_code == 302


def test_org_admin_sees_only_their_org(client, org_admin_setup, other_org):
    org_admin = org_admin_setup["org_admin"]
    response = client.post(
        "/studio/login/", {"username": org_admin.username, "password": "correct horse battery"}
    )
    assert response.status_code == 302
    for url in ("/studio/", "/studio/orgs/", "/studio/o/org-a/"):
        page = client.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        assert "org-a" in body and "org-b" not in body and "Org B" not in body, url
    assert "alpha-project" in client.get("/studio/o/org-a/").content.decode()
    assert client.get("/studio/o/org-b/").status_code == 404
    assert client.get(f"/studio/o/{other_org.id}/").status_code == 404
    for staff_page in ("/studio/redis/", "/studio/health/", "/studio/tenants/organization/"):
        assert client.get(staff_page).status_code in (403, 404), staff_page


def test_staff_sees_every_org(client, org_admin_setup, other_org):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    body = client.get("/studio/orgs/").content.decode()
    assert "org-a" in body and "org-b" in body
    org_b_page = client.get("/studio/o/org-b/")
    assert org_b_page.status_code == 200
    for url in (
        "/studio/",
        "/studio/redis/",
        "/studio/health/",
        "/studio/tenants/organization/",
        "/studio/tenants/project/",
    ):
        assert client.get(url).status_code == 200, url
    if not settings.MONGODB_URL:  # an optional dependency is shown as such, not as "up"
        assert (
            'mongodb: <span class="studio-status">not configured'
            in client.get("/studio/").content.decode()
        )
    changelist = client.get("/studio/tenants/project/").content.decode()
    assert "alpha-project" in changelist


def test_studio_org_access_follows_the_permission_map(client, org_admin_setup, monkeypatch):
    """Who reaches an org's Studio pages is ``USE_STUDIO`` in ``ROLE_PERMISSIONS``, nothing else:
    a developer (who holds it by default) is let in, taking it from admins shuts them out."""
    org_admin, member = org_admin_setup["org_admin"], org_admin_setup["member"]
    admin_perms = ROLE_PERMISSIONS[Role.ADMIN] - {USE_STUDIO}
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.ADMIN, admin_perms)

    client.force_login(member)
    assert client.get("/studio/o/org-a/").status_code == 200
    assert "org-a" in client.get("/studio/orgs/").content.decode()

    client.force_login(org_admin)
    assert client.get("/studio/o/org-a/").status_code in (302, 404)
    assert client.get("/studio/orgs/").status_code == 302  # back to the login page
