"""Conditional requests (RFC 9110 section 13) on the resources that carry ETags, object
downloads, records and documents: on GET, If-None-Match compares weakly and takes ``*`` and
lists, If-Match compares strongly, and the date forms use the resource's Last-Modified; on
record and document writes, If-Match compares strongly too.

Documents run on mongomock unless MONGODB_URL names a server (``document_store``)."""

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


def create_item(request, client) -> str:
    """The URL of a new record or document (``request.param``) of ``client``'s project."""
    base = client.base
    if request.param == "record":
        client.post(f"{base}/collections/", {"name": "items"}, "json")
        record = client.post(f"{base}/collections/items/records/", {"data": {"a": 1}}, "json")
        return f"{base}/collections/items/records/{record.json()['id']}/"
    request.getfixturevalue("document_store")
    client.post(f"{base}/collections/", {"name": "notes", "store": "documents"}, "json")
    doc = client.post(f"{base}/documents/notes/", {"data": {"a": 1}}, "json")
    assert doc.status_code == 201, doc.content
    return f"{base}/documents/notes/{doc.json()['id']}/"


@pytest.fixture(params=["object", "public object", "record", "document"])
def resource(request, project_client):
    """(client, url) of a resource whose first GET answers 200 with an ETag."""
    client = project_client
    base = client.base
    if request.param in ("record", "document"):
        return client, create_item(request, client)
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


@pytest.fixture(params=["record", "document"])
def writable(request, project_client):
    """(client, url) of a record or a document at version 1."""
    return project_client, create_item(request, project_client)


WRITE_CASES = [
    # (If-Match, expected status of a PATCH of the item at version 1)
    ('"1"', 200),
    ('"7", "1"', 412),  # two versions: the write names one
    ('"other", "1"', 200),
    ("*", 200),
    ('"2"', 412),
    ('W/"1"', 412),  # strong comparison: a weak tag never matches
    ('W/"1", W/"2"', 412),
    ("not an etag", 412),
]


@pytest.mark.parametrize(("value", "expected"), WRITE_CASES)
def test_conditional_write(writable, value, expected):
    client, url = writable
    response = client.patch(url, {"data": {"b": 2}}, "json", HTTP_IF_MATCH=value)
    assert response.status_code == expected, (value, response.content)
    current = client.get(url)
    if expected == 412:
        assert response.json()["error"]["code"] == "precondition_failed"
        assert current["ETag"] == '"1"' and current.json()["data"] == {"a": 1}
    else:
        assert response["ETag"] == current["ETag"] == '"2"'
        assert current.json()["data"] == {"a": 1, "b": 2}


def test_conditional_delete_compares_strongly(writable):
    client, url = writable
    assert client.delete(url, HTTP_IF_MATCH='W/"1"').status_code == 412
    assert client.get(url).status_code == 200
    assert client.delete(url, HTTP_IF_MATCH='"1"').status_code == 204
    assert client.get(url).status_code == 404
