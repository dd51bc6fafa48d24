"""Studio auth management: search users, see orgs/roles and live sessions, revoke, deactivate."""

import pytest
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model

from authn.models import AuditEvent, Session
from tests.authn.helpers import as_platform_admin

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def studio(client):
    admin = User.objects.create_superuser("root", "root@example.com", "a long admin password")
    client.force_login(admin)
    return client


def test_user_list_search_and_detail_show_orgs_roles_and_sessions(studio, user, org, client_for):
    api = client_for(user)
    listing = studio.get("/studio/auth/user/", {"q": user.email})
    assert listing.status_code == 200
    assert user.email in listing.content.decode()
    detail = studio.get(f"/studio/auth/user/{user.pk}/change/").content.decode()
    assert "Org A" in detail and "owner" in detail.lower()
    assert api.session_id in detail
    sessions = studio.get("/studio/authn/session/", {"q": user.email}).content.decode()
    assert api.session_id in sessions


def _action(studio, url, action, pks):
    return studio.post(
        url, {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}, follow=True
    )


def test_revoke_one_session_from_the_studio(studio, user, client_for):
    keep, drop = client_for(user), client_for(user)
    response = _action(studio, "/studio/authn/session/", "revoke_sessions", [drop.session_id])
    assert response.status_code == 200
    assert drop.get("/api/v1/auth/me/").status_code == 401
    assert keep.get("/api/v1/auth/me/").status_code == 200


def test_revoke_all_and_deactivate_from_the_studio(studio, user, other_user, client_for):
    mine, theirs = client_for(user), client_for(other_user)
    _action(studio, "/studio/auth/user/", "revoke_all_sessions", [user.pk])
    assert mine.get("/api/v1/auth/me/").status_code == 401
    assert theirs.get("/api/v1/auth/me/").status_code == 200
    _action(studio, "/studio/auth/user/", "deactivate_users", [other_user.pk])
    assert theirs.get("/api/v1/auth/me/").status_code == 401
    other_user.refresh_from_db()
    assert other_user.is_active is False
    as_platform_admin()
    assert not Session.objects.filter(user=other_user, revoked_at__isnull=True).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"session_revoke", "user_deactivate"} <= actions
