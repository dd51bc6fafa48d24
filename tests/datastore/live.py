"""A real server process for tests that need one (threads, pools, poolers)."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings
from django.db import transaction

from datastore import services as data_services
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory
from tests.tokens import access_token

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(**env_overrides: str):
    """uvicorn serving the platform on a free port, env copied from this process."""
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,  # tokens minted here must verify there
        "LOG_LEVEL": "WARNING",
        **env_overrides,
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
    try:
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def seed_org(slug: str) -> dict:
    """An org with an owner, a project and 30 committed records tagged with the slug."""
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
        "token": str(access_token(owner)),
        "url": f"/api/v1/orgs/{slug}/projects/{project.id}/collections/items/records/",
        "ids": {str(r.id) for r in records},
    }
