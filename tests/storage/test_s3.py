"""STORAGE_BACKEND=s3 under the production settings: the platform runs on uvicorn with
``platform_site.settings.production`` against an S3-compatible server (moto in server mode, a
real HTTP server in its own process), and the storage API uploads, signs, serves ranges and
deletes through it."""

import hashlib
import subprocess
import sys

import boto3
import httpx
import pytest
from django.conf import settings

from authn.services import sessions as auth_sessions
from tenants import services
from tests.factories import UserFactory
from tests.servers import AppServer, free_port, wait_for_port

BUCKET = "platform-objects"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}
REGION = "us-east-1"


@pytest.fixture
def s3_endpoint(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    client.endpoint = s3_endpoint
    return client


@pytest.fixture
def production_server(committed, s3):
    server = AppServer(
        {
            "DJANGO_SETTINGS_MODULE": "platform_site.settings.production",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; TLS ends at the proxy
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": s3.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            **CREDENTIALS,
        }
    ).start()
    try:
        yield server.url
    finally:
        server.stop()


def blobs(s3) -> dict[str, dict]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: item for item in listed}


def test_production_settings_store_serve_and_delete_objects_in_s3(production_server, s3):
    user = UserFactory()
    org = services.org_create(actor=user, name="Org A", slug="org-a")
    access = auth_sessions.session_start(user=user).access
    api = httpx.Client(
        base_url=production_server, headers={"Authorization": f"Bearer {access}"}, timeout=30
    )
    project = api.post("/api/v1/orgs/org-a/projects/", json={"name": "app"}).json()
    base = f"/api/v1/orgs/org-a/projects/{project['id']}/buckets"
    assert api.post(base + "/", json={"name": "media"}).status_code == 201

    content = bytes(range(256)) * 1024  # 256 KiB: several chunks when streamed
    sha = hashlib.sha256(content).hexdigest()
    created = api.post(
        f"{base}/media/objects/",
        data={"key": "clips/a.bin"},
        files={"file": ("a.bin", content, "application/octet-stream")},
    )
    assert created.status_code == 201, created.text
    blob = f"objects/{org.id}/{sha[:2]}/{sha}"
    assert blobs(s3)[blob]["Size"] == len(content)
    assert not (settings.MEDIA_ROOT / blob).exists()  # not on the local disk
    # A blob is shared by keys of any type; the stored type never decides how it is served.
    assert s3.head_object(Bucket=BUCKET, Key=blob)["ContentType"] == "application/octet-stream"

    signed = api.post(f"{base}/media/sign/", json={"key": "clips/a.bin"})
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    assert url.startswith(production_server + "/storage/v1/o/")
    anonymous = httpx.Client(timeout=30)
    whole = anonymous.get(url)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["ETag"] == f'"{sha}"'
    assert whole.headers["Content-Security-Policy"] == "sandbox"

    part = anonymous.get(url, headers={"Range": "bytes=70000-70099"})
    assert part.status_code == 206 and part.content == content[70000:70100]
    assert part.headers["Content-Range"] == f"bytes 70000-70099/{len(content)}"
    tail = anonymous.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == content[-10:]
    assert anonymous.get(url, headers={"If-None-Match": f'W/"{sha}"'}).status_code == 304

    assert api.delete(f"{base}/media/objects/clips/a.bin").status_code == 204
    assert blob not in blobs(s3)
    assert anonymous.get(url).status_code == 404
