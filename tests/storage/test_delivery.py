"""How object bytes are served so that a tenant's file cannot act on the platform's origin:
sandbox and nosniff on every response, attachment for active types unless the bucket opts in
and the request came to the delivery origin, URLs on that origin, and nothing else served
there. (In a real browser: test_browser.py.)"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.storage.test_storage import body, upload

pytestmark = pytest.mark.django_db

DELIVERY = "files.example.net"
ACTIVE = {
    "page.html": "text/html",
    "page.xhtml": "application/xhtml+xml",
    "logo.svg": "image/svg+xml",
    "feed.xml": "application/xml",
    "data.xml": "text/xml",
    "app.js": "text/javascript",
    "doc.pdf": "application/pdf",
    "thing.bin": "application/x-unknown-to-anyone",
}
INERT = {
    "photo.png": "image/png",
    "photo.jpg": "image/jpeg",
    "notes.txt": "text/plain",
    "table.csv": "text/csv",
    "data.json": "application/json",
    "clip.mp4": "video/mp4",
    "song.mp3": "audio/mpeg",
}


@pytest.fixture
def delivery_origin(settings):
    settings.STORAGE_DELIVERY_ORIGIN = f"https://{DELIVERY}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, DELIVERY]
    return f"https://{DELIVERY}"


@pytest.fixture
def api(api):
    api.post(api.base + "/", {"name": "site", "public": True}, "json")
    api.post(api.base + "/", {"name": "pages", "public": True, "inline_delivery": True}, "json")
    api.post(api.base + "/", {"name": "vault"}, "json")
    return api


def fetch(client, url: str, **headers):
    """GET an absolute object URL with the Host it names."""
    scheme, rest = url.split("://", 1)
    host, path = rest.split("/", 1)
    return client.get("/" + path, HTTP_HOST=host, secure=scheme == "https", **headers)


def signed_url(api, bucket: str, key: str) -> str:
    return api.post(f"{api.base}/{bucket}/sign/", {"key": key}, "json").json()["url"]


def object_urls(api, bucket: str, key: str, content_type: str) -> list[str]:
    created = upload(api, bucket, key, b"<b>hi</b>", content_type)
    assert created.status_code == 201, created.content
    urls = [signed_url(api, bucket, key)]
    if created.json()["public_url"]:
        urls.append(created.json()["public_url"])
    return urls


def assert_sandboxed(response):
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_without_a_delivery_origin_active_types_download_and_inert_ones_display(api, client):
    for bucket in ("site", "pages", "vault"):
        for key, content_type in {**ACTIVE, **INERT}.items():
            for url in object_urls(api, bucket, key, content_type):
                assert url.startswith("http://testserver/storage/v1/")
                response = fetch(client, url)
                assert response.status_code == 200, (url, response.content)
                assert_sandboxed(response)
                assert response["Content-Type"] == content_type
                disposition = "inline" if key in INERT else "attachment"
                assert response["Content-Disposition"] == f'{disposition}; filename="{key}"', url


def test_api_downloads_are_sandboxed_and_active_types_are_attachments(api):
    upload(api, "pages", "page.html", b"<script>x()</script>", "text/html")
    response = api.get(f"{api.base}/pages/objects/page.html")
    assert response.status_code == 200 and body(response) == b"<script>x()</script>"
    assert_sandboxed(response)
    assert response["Content-Disposition"] == 'attachment; filename="page.html"'


def test_urls_point_at_the_delivery_origin(api, delivery_origin):
    public = upload(api, "site", "a.txt", b"a").json()["public_url"]
    assert public.startswith(f"{delivery_origin}/storage/v1/public/")
    upload(api, "vault", "x.txt", b"x")
    assert signed_url(api, "vault", "x.txt").startswith(f"{delivery_origin}/storage/v1/o/")


def test_active_types_display_only_on_the_delivery_origin_of_an_opted_in_bucket(
    api, client, delivery_origin
):
    for bucket in ("site", "pages", "vault"):
        for key, content_type in ACTIVE.items():
            for url in object_urls(api, bucket, key, content_type):
                on_delivery = fetch(client, url)
                assert on_delivery.status_code == 200
                assert_sandboxed(on_delivery)
                expected = "inline" if bucket == "pages" else "attachment"
                assert on_delivery["Content-Disposition"].startswith(expected), (bucket, key)
                # The same path on the platform's own host is always a download.
                on_platform = fetch(client, url.replace(delivery_origin, "http://testserver"))
                assert on_platform.status_code == 200
                assert_sandboxed(on_platform)
                assert on_platform["Content-Disposition"].startswith("attachment"), (bucket, key)


def test_the_delivery_origin_serves_object_urls_and_nothing_else(api, client, delivery_origin):
    url = upload(api, "site", "a.txt", b"a").json()["public_url"]
    assert fetch(client, url).status_code == 200
    for path in ("/studio/", "/studio/login/", "/api/v1/auth/me/", "/api/schema/", "/health/live"):
        response = client.get(path, HTTP_HOST=DELIVERY, secure=True)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/studio/login/").status_code == 200  # the platform's host still has it


def test_every_object_response_is_sandboxed(api, client):
    upload(api, "site", "page.html", b"0123456789", "text/html")
    path = f"{api.base}/site/objects/page.html"
    full = api.get(path)
    responses = {
        "200": full,
        "206": api.get(path, HTTP_RANGE="bytes=0-1"),
        "304": api.get(path, HTTP_IF_NONE_MATCH=full["ETag"]),
        "416": api.get(path, HTTP_RANGE="bytes=99-"),
        "public 304": fetch(
            client,
            upload(api, "site", "page.html", b"0123456789", "text/html").json()["public_url"],
            HTTP_IF_NONE_MATCH=full["ETag"],
        ),
    }
    for name, response in responses.items():
        assert response.status_code == int(name.split()[-1]), name
        assert_sandboxed(response)
    assert responses["416"].json()["error"]["code"] == "range_not_satisfiable"
    assert responses["416"]["Content-Range"] == "bytes */10"


@pytest.mark.parametrize(
    "declared",
    ["text/html\x00", "x" * 120 + "/html", "text", "text/html/extra", "te xt/html", "/html", "a/"],
)
def test_a_content_type_that_is_not_a_media_type_is_400(api, declared):
    response = api.post(
        f"{api.base}/site/objects/",
        {"key": "f.bin", "file": SimpleUploadedFile("f", b"x", content_type=declared)},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert "file" in response.json()["error"]["details"]


def test_content_types_are_stored_lower_case_so_the_active_check_sees_them(api, client):
    created = upload(api, "site", "page.html", b"<b>x</b>", "Text/HTML; charset=utf-8")
    assert created.json()["content_type"] == "text/html"
    response = fetch(client, created.json()["public_url"])
    assert response["Content-Disposition"].startswith("attachment")


def test_signed_urls_are_never_cached_past_their_expiry(api, client):
    upload(api, "vault", "a.txt", b"a")
    url = api.post(f"{api.base}/vault/sign/", {"key": "a.txt", "expires_in": 5}, "json").json()
    response = fetch(client, url["url"])
    max_age = int(response["Cache-Control"].removeprefix("private, max-age="))
    assert 0 <= max_age <= 5
    url = api.post(f"{api.base}/vault/sign/", {"key": "a.txt", "expires_in": 3600}, "json").json()
    assert fetch(client, url["url"])["Cache-Control"] == "private, max-age=60"
