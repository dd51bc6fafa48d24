"""File storage: buckets' rules, uploads, downloads with ETag/Range, signed and public URLs,
identical bytes stored once, and no way into another org's objects."""

import time
from types import SimpleNamespace

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from storage import services as storage_services
from storage.models import StoredObject
from tenants.context import TenantContext, set_tenant_context

pytestmark = pytest.mark.django_db


def upload(client, bucket, key, content: bytes, content_type="text/plain"):
    return client.post(
        f"{client.base}/{bucket}/objects/",
        {"key": key, "file": SimpleUploadedFile("f", content, content_type=content_type)},
        format="multipart",
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_upload_list_download_with_etag_and_range(api):
    assert api.post(api.base + "/", {"name": "docs"}, "json").status_code == 201
    created = upload(api, "docs", "reports/q1.txt", b"0123456789")
    assert created.status_code == 201, created.content
    listed = api.get(f"{api.base}/docs/objects/", {"prefix": "reports/"}).json()
    assert [o["key"] for o in listed] == ["reports/q1.txt"] and listed[0]["size"] == 10

    got = api.get(f"{api.base}/docs/objects/reports/q1.txt")
    assert got.status_code == 200 and body(got) == b"0123456789"
    etag = got["ETag"]
    assert (
        api.get(f"{api.base}/docs/objects/reports/q1.txt", HTTP_IF_NONE_MATCH=etag).status_code
        == 304
    )
    part = api.get(f"{api.base}/docs/objects/reports/q1.txt", HTTP_RANGE="bytes=2-5")
    assert part.status_code == 206 and body(part) == b"2345"
    assert part["Content-Range"] == "bytes 2-5/10"
    assert (
        api.get(f"{api.base}/docs/objects/reports/q1.txt", HTTP_RANGE="bytes=50-").status_code
        == 416
    )


def test_bucket_rules_and_bad_keys_are_400(api):
    api.post(
        api.base + "/",
        {"name": "avatars", "max_file_size": 8, "allowed_content_types": ["image/*"]},
        "json",
    )
    too_big = upload(api, "avatars", "a.png", b"x" * 9, "image/png")
    assert too_big.status_code == 400 and "file" in too_big.json()["error"]["details"]
    wrong_type = upload(api, "avatars", "a.txt", b"x", "text/plain")
    assert wrong_type.status_code == 400
    assert upload(api, "avatars", "a.png", b"x", "image/png").status_code == 201
    for key in ("../etc/passwd", "/abs", "a/../b"):
        assert upload(api, "avatars", key, b"x", "image/png").status_code == 400, key


def test_signed_urls_open_without_a_token_until_they_expire(api, client, monkeypatch):
    api.post(api.base + "/", {"name": "private"}, "json")
    upload(api, "private", "secret.txt", b"top secret")
    signed = api.post(f"{api.base}/private/sign/", {"key": "secret.txt", "expires_in": 30}, "json")
    url = signed.json()["url"].replace("http://testserver", "")
    response = client.get(url)  # anonymous
    assert response.status_code == 200 and body(response) == b"top secret"
    assert client.get(url[:-3] + "abc").status_code == 404  # tampered
    # 31 s later, on the clock the token is checked with (a loaded machine cannot make a
    # real one-second lifetime run out before the first read).
    later = time.time() + 31
    monkeypatch.setattr(storage_services, "time", SimpleNamespace(time=lambda: later))
    expired = client.get(url)
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "url_expired"


def test_public_buckets_are_cacheable_private_ones_are_not_public(api, client):
    api.post(api.base + "/", {"name": "site", "public": True}, "json")
    api.post(api.base + "/", {"name": "vault"}, "json")
    public_url = upload(api, "site", "logo.svg", b"<svg/>", "image/svg+xml").json()["public_url"]
    response = client.get(public_url)
    assert response.status_code == 200 and body(response) == b"<svg/>"
    assert response["Cache-Control"].startswith("public, max-age=")
    assert upload(api, "vault", "logo.svg", b"<svg/>", "image/svg+xml").json()["public_url"] is None
    vault_id = api.get(f"{api.base}/vault/").json()["id"]
    assert public_url.startswith("http://testserver/storage/v1/public/")
    site_id = public_url.split("/")[-2]
    forged = public_url.replace(site_id, vault_id)
    assert client.get(forged).status_code == 404


def test_identical_bytes_are_stored_once_and_removed_with_the_last_object(
    api, org, django_capture_on_commit_callbacks
):
    api.post(api.base + "/", {"name": "dup"}, "json")
    upload(api, "dup", "one.txt", b"same bytes")
    upload(api, "dup", "two.txt", b"same bytes")
    set_tenant_context(TenantContext(org_id=org.id))
    blobs = set(StoredObject.objects.values_list("blob", flat=True))
    assert len(blobs) == 1 and default_storage.exists(blobs.pop())
    blob = StoredObject.objects.first().blob
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"{api.base}/dup/objects/one.txt")
    assert default_storage.exists(blob)
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"{api.base}/dup/objects/two.txt")
    assert not default_storage.exists(blob)


def test_another_org_cannot_reach_the_objects(api, other_user, client_for):
    api.post(api.base + "/", {"name": "docs"}, "json")
    upload(api, "docs", "a.txt", b"mine")
    outsider = client_for(other_user)
    assert outsider.get(f"{api.base}/docs/objects/a.txt").status_code == 404
    assert outsider.get(f"{api.base}/docs/objects/").status_code == 404


def test_if_range_serves_the_range_only_for_the_version_it_names(api):
    api.post(api.base + "/", {"name": "docs"}, "json")
    upload(api, "docs", "a.txt", b"0123456789")
    path = f"{api.base}/docs/objects/a.txt"
    current = api.get(path)
    etag, modified = current["ETag"], current["Last-Modified"]
    for validator, status in [(etag, 206), (modified, 206), ('"stale"', 200), ("W/" + etag, 200)]:
        response = api.get(path, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=validator)
        assert response.status_code == status, validator
        assert body(response) == (b"0123" if status == 206 else b"0123456789")


def test_ranges_we_do_not_serve_get_the_whole_file_not_an_error(api):
    api.post(api.base + "/", {"name": "docs"}, "json")
    upload(api, "docs", "a.txt", b"0123456789")
    path = f"{api.base}/docs/objects/a.txt"
    for header in ("bytes=0-1,4-5", "bytes=" + "9" * 5000 + "-", "items=0-1", "bytes=-"):
        response = api.get(path, HTTP_RANGE=header)
        assert response.status_code == 200 and body(response) == b"0123456789", header[:20]
    suffix = api.get(path, HTTP_RANGE="bytes=-3")
    assert suffix.status_code == 206 and body(suffix) == b"789"


def test_an_empty_file_is_400(api):
    api.post(api.base + "/", {"name": "docs"}, "json")
    response = upload(api, "docs", "empty.txt", b"")
    assert response.status_code == 400 and "file" in response.json()["error"]["details"]
