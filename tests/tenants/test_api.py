"""The orgs API: create, read, update, members, roles enforced over HTTP."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_and_list_orgs(user, client_for):
    client = client_for(user)
    created = client.post("/api/v1/orgs/", {"name": "Acme Inc"}, format="json")
    assert created.status_code == 201
    assert created.json()["slug"] == "acme-inc"
    listed = client.get("/api/v1/orgs/").json()
    assert [o["slug"] for o in listed] == ["acme-inc"]
    assert client.get("/api/v1/orgs/acme-inc").status_code == 200
    by_id = client.get(f"/api/v1/orgs/{created.json()['id']}/")
    assert by_id.json()["slug"] == "acme-inc"


def test_org_list_excludes_orgs_the_user_is_not_in(org, other_org, user, client_for):
    listed = client_for(user).get("/api/v1/orgs/").json()
    assert [o["slug"] for o in listed] == ["org-a"]


def test_members_endpoints_follow_roles(org, user, client_for):
    owner = client_for(user)
    viewer = UserFactory()
    added = owner.post(
        "/api/v1/orgs/org-a/members/", {"email": viewer.email, "role": "viewer"}, format="json"
    )
    assert added.status_code == 201
    members = owner.get("/api/v1/orgs/org-a/members/").json()
    assert {m["user"]["email"] for m in members} == {user.email, viewer.email}

    as_viewer = client_for(viewer)
    assert as_viewer.get("/api/v1/orgs/org-a/members/").status_code == 200
    denied = as_viewer.post("/api/v1/orgs/org-a/members/", {"email": user.email}, format="json")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"
    assert (
        as_viewer.post("/api/v1/orgs/org-a/projects/", {"name": "x"}, format="json").status_code
        == 403
    )

    demote_last_owner = owner.patch(
        f"/api/v1/orgs/org-a/members/{user.pk}/", {"role": "admin"}, format="json"
    )
    assert demote_last_owner.status_code == 400
    assert "last owner" in str(demote_last_owner.json()["error"]["details"])


def test_project_crud(org, user, client_for):
    client = client_for(user)
    created = client.post("/api/v1/orgs/org-a/projects/", {"name": "web"}, format="json")
    assert created.status_code == 201
    pid = created.json()["id"]
    assert (
        client.patch(
            f"/api/v1/orgs/org-a/projects/{pid}/", {"description": "d"}, format="json"
        ).json()["description"]
        == "d"
    )
    assert (
        client.put(f"/api/v1/orgs/org-a/projects/{pid}/", {"name": "web2"}, format="json").json()[
            "name"
        ]
        == "web2"
    )
    assert client.delete(f"/api/v1/orgs/org-a/projects/{pid}/").status_code == 204
    assert client.get(f"/api/v1/orgs/org-a/projects/{pid}/").status_code == 404


def test_anonymous_gets_401(org, api_client):
    response = api_client.get("/api/v1/orgs/org-a/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert api_client.get("/api/v1/orgs/").status_code == 401
