"""The storage browser (Django's test client): buckets, folders, upload, download, a signed
link, delete; through the storage services (audited), read-only without WRITE_DATA."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from authn.constants import AuditAction
from authn.models import AuditEvent
from storage import services as storage_services
from storage.models import StoredObject
from tenants.constants import ROLE_PERMISSIONS, USE_STUDIO, Role
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db
PLATFORM = TenantContext(platform_admin=True)


def storage(project, *parts) -> str:
    return f"/studio/o/org-a/p/{project.id}/storage/" + "".join(f"{p}/" for p in parts)


def keys() -> list[str]:
    with tenant_context(PLATFORM):
        return sorted(StoredObject.objects.values_list("key", flat=True))


@pytest.fixture
def files(membership_a, project_a):
    as_member(membership_a)
    bucket = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="files"
    )
    for key in ("readme.txt", "photos/2026/cat.png", "photos/dog.png"):
        upload = SimpleUploadedFile(key.rsplit("/", 1)[-1], b"bytes of " + key.encode())
        storage_services.object_put(membership=membership_a, bucket=bucket, key=key, upload=upload)
    set_tenant_context(TenantContext())
    return bucket


def test_buckets_and_folders(client, user, project_a, files):
    client.force_login(user)
    assert storage(project_a, "files") in client.get(storage(project_a)).content.decode()
    root = client.get(storage(project_a, "files")).content.decode()
    assert "photos/</a>" in root and "2 files" in root and "readme.txt</a>" in root
    assert "cat.png" not in root
    photos = client.get(storage(project_a, "files"), {"prefix": "photos"}).content.decode()
    assert "2026/</a>" in photos and "dog.png</a>" in photos and "readme" not in photos
    assert client.get(storage(project_a, "nope")).status_code == 404

    created = client.post(storage(project_a), {"name": "avatars", "public": "on"})
    assert created.status_code == 303 and created["Location"] == storage(project_a, "avatars")
    again = client.post(storage(project_a), {"name": "avatars"}, follow=True)
    assert "already exists" in again.content.decode()


def test_upload_download_sign_delete(client, user, project_a, files):
    client.force_login(user)
    bucket = storage(project_a, "files")
    upload = SimpleUploadedFile("notes.txt", b"hello world", content_type="text/plain")
    answer = client.post(bucket, {"prefix": "docs/", "file": upload})
    assert answer.status_code == 303 and answer["Location"] == bucket + "?prefix=docs%2F"
    assert "docs/notes.txt" in keys()

    download = client.get(bucket + "download/", {"key": "docs/notes.txt"})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello world"
    assert download["Content-Security-Policy"] == "sandbox"
    assert "no-store" in download["Cache-Control"]
    assert client.get(bucket + "download/", {"key": "docs/none.txt"}).status_code == 404

    signed = client.post(bucket + "sign/", {"key": "docs/notes.txt", "expires_in": "86400"})
    assert signed.status_code == 200 and "no-store" in signed["Cache-Control"]
    body = signed.content.decode()
    url = body.split('id="signed-url">', 1)[1].split("<", 1)[0]
    assert "valid 1 day" in body and "/storage/v1/o/" in url
    client.logout()
    assert b"".join(client.get(url).streaming_content) == b"hello world"

    client.force_login(user)
    too_big = SimpleUploadedFile("x.bin", b"x")
    assert client.post(bucket, {"prefix": "../", "file": too_big}, follow=True).status_code == 200
    assert client.post(bucket, {"prefix": "docs"}, follow=True).status_code == 200  # no file
    deleted = client.post(bucket + "delete/", {"key": "docs/notes.txt"})
    assert deleted.status_code == 303 and deleted["Location"] == bucket + "?prefix=docs%2F"
    assert "docs/notes.txt" not in keys()
    with tenant_context(PLATFORM):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        AuditAction.OBJECT_PUT,
        AuditAction.OBJECT_DELETE,
        AuditAction.OBJECT_URL_SIGN,
    } <= actions


def test_a_viewer_browses_downloads_and_signs_but_changes_nothing(
    client, add_member, project_a, files, monkeypatch
):
    # Whatever the map grants today, a viewer given the Studio reads and changes nothing.
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.VIEWER, ROLE_PERMISSIONS[Role.VIEWER] | {USE_STUDIO})
    client.force_login(add_member(Role.VIEWER).user)
    bucket = storage(project_a, "files")
    for url in (storage(project_a), bucket):
        body = client.get(url).content.decode()
        assert 'id="read-only"' in body
        for control in ('id="upload"', 'id="bucket-create"', "Delete</button>"):
            assert control not in body, (url, control)
    assert client.get(bucket + "download/", {"key": "readme.txt"}).status_code == 200
    signed = client.post(bucket + "sign/", {"key": "readme.txt"})
    assert signed.status_code == 200 and "Delete</button>" not in signed.content.decode()
    before = keys()
    upload = SimpleUploadedFile("x.txt", b"x")
    assert client.post(bucket, {"file": upload}).status_code == 403
    assert client.post(bucket + "delete/", {"key": "readme.txt"}).status_code == 403
    assert client.post(storage(project_a), {"name": "more"}).status_code == 403
    assert keys() == before
