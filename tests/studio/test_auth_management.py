"""Auth management in the Studio: an admin action revokes a session, and it is over at once."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_revoking_a_session_in_the_studio_locks_out_its_client(client, user, org, client_for):
    app_client = client_for(user)
    assert app_client.get("/api/v1/auth/me/").status_code == 200

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    listing = client.get("/studio/authn/session/", {"q": user.email})
    assert listing.status_code == 200
    assert str(app_client.session_id) in listing.content.decode()

    response = client.post(
        "/studio/authn/session/",
        {"action": "revoke_sessions", "_selected_action": [str(app_client.session_id)]},
    )
    assert response.status_code == 302
    assert app_client.get("/api/v1/auth/me/").status_code == 401


def test_user_search_and_sessions_are_in_the_navigation(client, user, org):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.get("/studio/").content.decode()
    for label in ("Users", "Sessions", "Audit log", "Alerts", "Errors", "Backups"):
        assert f">{label}</a>" in page, label
    found = client.get("/studio/auth/user/", {"q": user.email}).content.decode()
    assert user.email in found
