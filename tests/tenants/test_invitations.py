"""Invitations: sent by email, accepted only by the invited address, once, before expiry."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tenants.context import TenantContext, set_tenant_context
from tenants.models import Invitation, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    def send(client, email, role="developer"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/orgs/org-a/invitations/",
                {"email": email, "role": role, "accept_url": "https://app.example.com/join"},
                format="json",
            )
        return _sent(response)

    return send


def _sent(response):
    assert response.status_code == 201, response.content
    token = mail.outbox[-1].body.split("?token=")[1].split()[0]
    return response.json(), token


def test_invitee_accepts_with_the_emailed_token(org, user, client_for, invite):
    owner = client_for(user)
    invitee = UserFactory(email="new@example.com", username="new@example.com")
    invitation, token = invite(owner, "New@Example.com")
    assert mail.outbox[-1].to == ["new@example.com"]
    assert token not in str(Invitation.objects.values_list())  # only its hash is stored
    assert [i["email"] for i in owner.get("/api/v1/orgs/org-a/invitations/").json()] == [
        "new@example.com"
    ]

    accepted = client_for(invitee).post("/api/v1/invitations/accept/", {"token": token}, "json")
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["role"] == "developer"
    projects = client_for(invitee).get("/api/v1/orgs/org-a/projects/")
    assert projects.status_code == 200

    again = client_for(invitee).post("/api/v1/invitations/accept/", {"token": token}, "json")
    assert again.status_code == 400
    assert owner.get("/api/v1/orgs/org-a/invitations/").json() == []


def test_someone_else_with_the_token_finds_nothing(org, user, client_for, invite):
    _, token = invite(client_for(user), "invited@example.com")
    stranger = UserFactory()
    response = client_for(stranger).post("/api/v1/invitations/accept/", {"token": token}, "json")
    assert response.status_code == 404
    assert not Membership.objects.filter(user=stranger).exists()


def test_expired_invitation_is_refused(org, user, client_for, invite):
    invitee = UserFactory(email="late@example.com", username="late@example.com")
    invitation, token = invite(client_for(user), "late@example.com")
    set_tenant_context(TenantContext(org_id=org.id))
    expired = Invitation.objects.filter(pk=invitation["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert expired == 1
    response = client_for(invitee).post("/api/v1/invitations/accept/", {"token": token}, "json")
    assert response.status_code == 400
    assert "expired" in str(response.json()["error"]["details"])


def test_viewer_cannot_invite_and_owner_can_revoke(org, user, client_for, invite):
    owner = client_for(user)
    viewer = UserFactory()
    owner.post("/api/v1/orgs/org-a/members/", {"email": viewer.email, "role": "viewer"}, "json")
    denied = client_for(viewer).post(
        "/api/v1/orgs/org-a/invitations/", {"email": "x@example.com"}, format="json"
    )
    assert denied.status_code == 403
    invitation, _ = invite(owner, "gone@example.com")
    assert owner.delete(f"/api/v1/orgs/org-a/invitations/{invitation['id']}/").status_code == 204
    assert owner.get("/api/v1/orgs/org-a/invitations/").json() == []


def test_inviting_a_member_is_invalid(org, user, client_for):
    response = client_for(user).post(
        "/api/v1/orgs/org-a/invitations/", {"email": user.email}, format="json"
    )
    assert response.status_code == 400
