"""20 concurrent clients alternating between two orgs, against a real server over the pool.

A uvicorn process serves the committed data; 20 threads send 2,000 requests in all, each
client switching org on every request. Every row of every response must belong to the org
the request named: one foreign row is a failure.
"""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from datastore import services as data_services
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 20
REQUESTS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server():
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_MIN_SIZE": "2",
        # Fewer connections than clients: requests queue for the pool and reuse connections.
        "DATABASE_POOL_MAX_SIZE": "8",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "platform_site.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def make_org(slug: str) -> dict:
    owner = UserFactory()
    org = services.org_create(actor=owner, name=slug, slug=slug)
    with transaction.atomic():
        set_tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role="owner"))
        membership = org.memberships.get()
        project = services.project_create(membership=membership, name="app")
        collection = data_services.collection_create(
            membership=membership, project=project, name="items"
        )
        records = data_services.record_bulk_create(
            membership=membership,
            collection=collection,
            items=[{"org": slug, "n": i} for i in range(30)],
        )
    return {
        "slug": slug,
        "token": str(AccessToken.for_user(owner)),
        "url": f"/api/v1/orgs/{slug}/projects/{project.id}/collections/items/records/",
        "ids": {str(r.id) for r in records},
    }


def test_no_foreign_row_under_concurrency(django_db_setup, committed, server):
    orgs = [make_org("conc-a"), make_org("conc-b")]

    def client_run(index: int) -> list[str]:
        problems = []
        with httpx.Client(base_url=server, timeout=30) as client:
            for step in range(REQUESTS // CLIENTS):
                me = orgs[(index + step) % 2]
                other = orgs[(index + step + 1) % 2]
                headers = {"Authorization": f"Bearer {me['token']}"}
                if step % 3 == 2:
                    record_id = sorted(other["ids"])[step % 30]
                    response = client.get(f"{me['url']}{record_id}/", headers=headers)
                    if response.status_code != 404:
                        problems.append(f"foreign id answered {response.status_code}")
                    continue
                params = {"limit": "50", "count": "true"}
                if step % 3 == 1:
                    params["filter"] = "n:gte:10"
                response = client.get(me["url"], params=params, headers=headers)
                if response.status_code != 200:
                    problems.append(f"status {response.status_code}")
                    continue
                body = response.json()
                for row in body["results"]:
                    if row["data"]["org"] != me["slug"] or row["id"] not in me["ids"]:
                        problems.append(f"foreign row {row['id']} in {me['slug']}")
                expected = 30 if step % 3 == 0 else 20
                if body["count"] != expected or len(body["results"]) != expected:
                    problems.append(f"count {body['count']} in {me['slug']}")
        return problems

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client_run, range(CLIENTS)))
    problems = [p for result in results for p in result]
    assert problems == []
    ready = httpx.get(f"{server}/health/ready", timeout=10).json()
    assert ready["pool"]["max"] == 8
    assert ready["pool"]["requests"] >= REQUESTS  # every request went through the pool
    assert ready["pool"]["errors"] == 0
