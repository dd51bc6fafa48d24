"""Conditional GETs (RFC 9110 section 13) on the two resources that carry ETags, object
downloads and records: If-None-Match compares weakly and takes ``*`` and lists, If-Match
compares strongly, and the date forms use the resource's Last-Modified."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.http import http_date

pytestmark = pytest.mark.django_db

LONG_AGO = http_date(1_000_000_000)  # 2001
FAR_AHEAD = http_date(4_000_000_000)


@pytest.fixture
def project_client(org, user, client_for):
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "app"}, "json").json()
    client.base = f"/api/v1/orgs/org-a/projects/{project['id']}"
    return client


@pytest.fixture(params=["object", "public object", "record"])
def resource(request, project_client):
    """(client, url) of a resource whose first GET answers 200 with an ETag."""
    client = project_client
    base = client.base
    if request.param == "record":
        client.post(f"{base}/collections/", {"name": "items"}, "json")
        record = client.post(f"{base}/collections/items/records/", {"data": {"a": 1}}, "json")
        return client, f"{base}/collections/items/records/{record.json()['id']}/"
    client.post(f"{base}/buckets/", {"name": "docs", "public": True}, "json")
    created = client.post(
        f"{base}/buckets/docs/objects/",
        {"key": "a.txt", "file": SimpleUploadedFile("f", b"hello", content_type="text/plain")},
        format="multipart",
    )
    if request.param == "public object":
        return client, created.json()["public_url"]
    return client, f"{base}/buckets/docs/objects/a.txt"


CASES = [
    # (header, value built from the current ETag, expected status)
    ("If-None-Match", "{etag}", 304),
    ("If-None-Match", "W/{etag}", 304),
    ("If-None-Match", "*", 304),
    ("If-None-Match", '"other", {etag}', 304),
    ("If-None-Match", 'W/"other",W/{etag}', 304),
    ("If-None-Match", '"other"', 200),
    ("If-None-Match", 'W/"other", "another"', 200),
    ("If-None-Match", "not an etag", 200),
    ("If-Match", "{etag}", 200),
    ("If-Match", '"other", {etag}', 200),
    ("If-Match", "*", 200),
    ("If-Match", '"other"', 412),
    ("If-Match", "W/{etag}", 412),  # If-Match compares strongly: a weak tag never matches
    ("If-Modified-Since", FAR_AHEAD, 304),
    ("If-Modified-Since", LONG_AGO, 200),
    ("If-Unmodified-Since", FAR_AHEAD, 200),
    ("If-Unmodified-Since", LONG_AGO, 412),
]


@pytest.mark.parametrize(("header", "value", "expected"), CASES)
def test_conditional_get(resource, header, value, expected):
    client, url = resource
    first = client.get(url)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"') and first["Last-Modified"]
    meta_key = "HTTP_" + header.upper().replace("-", "_")
    response = client.get(url, **{meta_key: value.format(etag=etag)})
    assert response.status_code == expected, (header, value, response.content)
    if expected == 304:
        assert response["ETag"] == etag
        assert response.content == b""
    if expected == 412:
        assert response.json()["error"]["code"] == "precondition_failed"
