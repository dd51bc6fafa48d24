"""A whole cluster per test module (``scripts/cluster.py``: nginx in front of app instances,
PgBouncer, a PostgreSQL primary and standby, Redis Sentinel, Celery), and a developer's calls
to it over HTTP. The tests reach the platform only through ``cluster.url`` or, where a test
needs "on another instance", through one instance's own ports."""

import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from scripts.cluster import Cluster

PASSWORD = "a long cluster passphrase"  # noqa: S105


@contextmanager
def running_cluster(instances: int = 4, **extra_env: str):
    # Not pytest's tmp_path: its parent is private to root, and postgres must reach the data.
    base = Path(tempfile.mkdtemp(prefix="platform-cluster-"))
    cluster = Cluster(base, instances=instances, extra_env=extra_env)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.destroy()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def register(base_url: str, label: str) -> dict:
    """A new developer account; its email and the tokens register answered with."""
    email = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    response = httpx.post(
        f"{base_url}/api/v1/auth/register/", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 201, response.text
    return {"email": email, **response.json()}


def login(base_url: str, email: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/auth/login/", json={"email": email, "password": PASSWORD}, timeout=30
    )


def create_collection(base_url: str, token: str, name: str) -> str:
    """A new org of the caller with a project and an org-wide collection ``name``; the
    collection's API URL."""
    auth = bearer(token)
    org = httpx.post(
        f"{base_url}/api/v1/orgs/", json={"name": f"Org {uuid.uuid4().hex[:8]}"}, headers=auth
    )
    assert org.status_code == 201, org.text
    slug = org.json()["slug"]
    project = httpx.post(
        f"{base_url}/api/v1/orgs/{slug}/projects/", json={"name": "web"}, headers=auth
    )
    assert project.status_code == 201, project.text
    project_url = f"/api/v1/orgs/{slug}/projects/{project.json()['id']}"
    collection = httpx.post(
        f"{base_url}{project_url}/collections/", json={"name": name}, headers=auth
    )
    assert collection.status_code == 201, collection.text
    return f"{project_url}/collections/{name}"


@pytest.fixture(scope="module")
def cluster():
    # One login budget for the whole module, counted per account over a day (a fixed window:
    # the test cannot straddle a window edge); registrations and logins per IP are raised, as
    # every test's calls come from 127.0.0.1.
    with running_cluster(
        4,
        AUTHN_RATE_LOGIN_ACCOUNT="4/86400",
        AUTHN_RATE_LOGIN_IP="1000/300",
        AUTHN_RATE_REGISTER_IP="1000/3600",
    ) as running:
        yield running
