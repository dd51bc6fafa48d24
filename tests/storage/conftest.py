"""The storage tests' client: an org owner's, with ``base`` the buckets URL of a new project."""

import pytest


@pytest.fixture
def api(org, user, client_for):
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "app"}, "json").json()
    client.base = f"/api/v1/orgs/org-a/projects/{project['id']}/buckets"
    return client
