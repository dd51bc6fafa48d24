"""Supabase Storage (``/storage/v1/``): storage-js end to end through both URL forms, and bad
input through Django's test client, each answered in Storage's error shape, never a 500."""

import re
import time

import pytest
from django.core import signing
from django.db import transaction
from rest_framework.test import APIClient

from access import services as access_services
from endusers.services.sessions import end_user_session_start
from storage import services as storage_services
from storage.models import StoredObject
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tests.access.conftest import as_client
from tests.compat.conftest import URL_FORMS
from tests.datastore.conftest import (  # noqa: F401 (fixtures used here)
    as_member,
    membership_a,
    membership_b,
    project_a,
    project_b,
)

STORAGE_SHAPE = {"statusCode", "error", "message"}
OPERATIONS = ("select", "insert", "update", "delete")


def owner_rules(membership, project, bucket):
    for operation in OPERATIONS:
        access_services.rule_set(
            membership=membership, project=project, resource_type="bucket",
            resource_id=bucket.id, operation=operation, client_role="authenticated",
            kind="owner",
        )  # fmt: skip


# --- storage-js -------------------------------------------------------------------------------
def demo_buckets():
    """The demo project's "docs" (private) and "avatars" (public), each end user owning their
    files; nothing opens them to anon."""
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get(email="owner@demo.example")
    with transaction.atomic():
        set_tenant_context(TenantContext(user_id=owner.pk))
        membership = tenant_selectors.membership_for(user=owner, org_ref="demo")
    with tenant_context(
        TenantContext(org_id=membership.org_id, user_id=owner.pk, role=membership.role)
    ):
        project = tenant_selectors.project_list(org=membership.org).get(name="todo-app")
        for name, public in (("docs", False), ("avatars", True)):
            bucket = storage_services.bucket_create(
                membership=membership, project=project, name=name, public=public
            )
            owner_rules(membership, project, bucket)


@pytest.mark.slow
@pytest.mark.parametrize("form", URL_FORMS)
def test_storage_js(demo, form):
    demo_buckets()
    output = demo.node("storage.test.mjs", form)
    assert re.search(r"\bpass 12\b", output) and re.search(r"\bfail 0\b", output), output[-2000:]


# --- bad input --------------------------------------------------------------------------------
@pytest.fixture
def world(membership_a, project_a, membership_b, project_b):  # noqa: F811
    """Project A with a private "docs" bucket (owner rules) holding alice's file, its keys and
    alice's token; project B's publishable key."""
    as_member(membership_a)
    docs = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="docs", max_file_size=16
    )
    owner_rules(membership_a, project_a, docs)
    _, publishable = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="publishable"
    )
    _, secret = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="secret"
    )
    as_member(membership_b)
    storage_services.bucket_create(membership=membership_b, project=project_b, name="theirs")
    _, other = tenant_services.api_key_create(
        membership=membership_b, project=project_b, kind="publishable"
    )
    as_client(project_a, "service_role")
    from endusers.models import EndUser

    alice = EndUser.objects.create(org_id=project_a.org_id, project=project_a, email="a@x.io")
    set_tenant_context(TenantContext())
    token = end_user_session_start(project=project_a, end_user=alice).access_token
    headers = {
        "anon": {"HTTP_APIKEY": publishable},
        "secret": {"HTTP_APIKEY": secret},
        "alice": {"HTTP_APIKEY": publishable, "HTTP_AUTHORIZATION": f"Bearer {token}"},
        "other": {"HTTP_APIKEY": other},
    }
    client = APIClient()
    response = client.generic(
        "POST", "/storage/v1/object/docs/a.txt", b"hello", content_type="text/plain",
        **headers["alice"],
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return {"client": client, "headers": headers, "project": project_a}


def assert_storage_error(response, status: int):
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == STORAGE_SHAPE, body
    assert body["statusCode"] == str(status) and body["message"]
    return body


def stored_keys():
    set_tenant_context(TenantContext(platform_admin=True))
    keys = sorted(StoredObject.objects.values_list("key", flat=True))
    set_tenant_context(TenantContext())
    return keys


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/storage/v1/bucket", "{not json"),
        ("post", "/storage/v1/object/list/docs", "[1, 2"),
        ("post", "/storage/v1/object/list/docs", '{"limit": "many"}'),
        ("post", "/storage/v1/object/move", '{"bucketId": "docs"}'),
        ("post", "/storage/v1/object/sign/docs/a.txt", '{"expiresIn": -1}'),
        ("delete", "/storage/v1/object/docs", '{"prefixes": "a.txt"}'),
        ("put", "/storage/v1/bucket/docs", '{"file_size_limit": "lots"}'),
    ],
)
def test_bad_json_is_400_in_the_storage_shape(world, method, path, body):
    response = world["client"].generic(
        method.upper(), path, body, content_type="application/json", **world["headers"]["secret"]
    )
    assert_storage_error(response, 400)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["../a.txt", "x/../../a.txt", "/etc/passwd", "a//b", "dot/./..", "\x01ctl"]
)
def test_path_traversal_is_refused(world, key):
    client, alice = world["client"], world["headers"]["alice"]
    url = f"/storage/v1/object/docs/{key}"
    response = client.generic("POST", url, b"x", content_type="text/plain", **alice)
    assert_storage_error(response, 400)
    moved = client.post(
        "/storage/v1/object/move",
        {"bucketId": "docs", "sourceKey": "a.txt", "destinationKey": key},
        format="json", **alice,
    )  # fmt: skip
    assert_storage_error(moved, 400)
    assert stored_keys() == ["a.txt"]


@pytest.mark.django_db
def test_a_nul_in_the_path_is_refused_before_anything(world):
    response = world["client"].get("/storage/v1/object/docs/a%00.txt", **world["headers"]["alice"])
    assert_storage_error(response, 400)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/storage/v1/bucket/nope"),
        ("get", "/storage/v1/object/nope/a.txt"),
        ("post", "/storage/v1/object/list/nope"),
        ("get", "/storage/v1/object/info/nope/a.txt"),
        ("get", "/storage/v1/object/info/docs/missing.txt"),
        ("post", "/storage/v1/object/nope/a.txt"),
        ("get", "/storage/v1/object/public/nope/a.txt"),
        # Another project's bucket is not there at all.
        ("get", "/storage/v1/bucket/theirs"),
        ("post", "/storage/v1/object/list/theirs"),
    ],
)
def test_unknown_buckets_and_objects_are_404(world, method, path):
    response = getattr(world["client"], method)(path, {}, format="json",
                                                **world["headers"]["secret"])  # fmt: skip
    assert_storage_error(response, 404)


@pytest.mark.django_db
def test_unknown_paths_and_methods_are_in_the_storage_shape(world):
    client, secret = world["client"], world["headers"]["secret"]
    assert_storage_error(client.get("/storage/v1/bucket/docs/what/now", **secret), 404)
    assert_storage_error(client.patch("/storage/v1/object/move", {}, format="json", **secret), 405)


@pytest.mark.django_db
def test_a_body_over_the_bucket_limit_is_413(world):
    client, alice = world["client"], world["headers"]["alice"]
    raw = client.generic(
        "POST", "/storage/v1/object/docs/big.txt", b"x" * 17, content_type="text/plain", **alice
    )
    assert_storage_error(raw, 413)
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = client.post(
        "/storage/v1/object/docs/big.txt",
        {"": SimpleUploadedFile("big.txt", b"y" * 17, content_type="text/plain")},
        format="multipart", **alice,
    )  # fmt: skip
    assert_storage_error(form, 413)
    empty = client.generic("POST", "/storage/v1/object/docs/e.txt", b"", **alice)
    assert_storage_error(empty, 400)
    assert stored_keys() == ["a.txt"]


@pytest.mark.django_db
def test_a_multipart_upload_takes_the_forms_file(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = world["client"].post(
        "/storage/v1/object/docs/form.txt",
        {"cacheControl": "3600", "": SimpleUploadedFile("blob", b"form", content_type="text/csv")},
        format="multipart", **world["headers"]["alice"],
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["Key"] == "docs/form.txt"
    assert stored_keys() == ["a.txt", "form.txt"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "caller, method, path, body, status",
    [
        # Buckets are managed with the secret key only.
        ("anon", "post", "/storage/v1/bucket", {"id": "mine"}, 403),
        ("alice", "post", "/storage/v1/bucket", {"id": "mine"}, 403),
        ("alice", "put", "/storage/v1/bucket/docs", {"public": True}, 403),
        ("alice", "post", "/storage/v1/bucket/docs/empty", {}, 403),
        ("alice", "delete", "/storage/v1/bucket/docs", {}, 403),
        # The access rules: anon has none on "docs".
        ("anon", "post", "/storage/v1/object/list/docs", {}, 403),
        ("anon", "get", "/storage/v1/object/docs/a.txt", {}, 404),
        ("anon", "post", "/storage/v1/object/sign/docs/a.txt", {"expiresIn": 60}, 404),
        ("anon", "post", "/storage/v1/object/upload/sign/docs/n.txt", {}, 403),
        ("anon", "get", "/storage/v1/object/public/docs/a.txt", {}, 404),
        # Another project's key: the bucket is not there.
        ("other", "get", "/storage/v1/object/docs/a.txt", {}, 404),
        ("other", "post", "/storage/v1/object/list/docs", {}, 404),
    ],
)
def test_wrong_key_kinds_and_roles_are_refused(world, caller, method, path, body, status):
    client = world["client"]
    response = getattr(client, method)(path, body, format="json", **world["headers"][caller])
    assert_storage_error(response, status)
    assert stored_keys() == ["a.txt"]


@pytest.mark.django_db
def test_keys_in_the_wrong_place_are_401(world):
    client = world["client"]
    assert_storage_error(client.post("/storage/v1/object/list/docs", {}, format="json"), 401)
    # Only the signed and public URLs themselves are keyless, not what makes or changes them.
    for method, path in [
        ("post", "/storage/v1/object/sign/docs/a.txt"),
        ("post", "/storage/v1/object/upload/sign/docs/a.txt"),
        ("delete", "/storage/v1/object/sign/docs/a.txt"),
        ("put", "/storage/v1/object/docs/a.txt"),
        ("delete", "/storage/v1/object/docs"),
        ("get", "/storage/v1/object/docs/a.txt"),
    ]:
        assert_storage_error(getattr(client, method)(path, {}, format="json"), 401)
    public = assert_storage_error(client.get("/storage/v1/object/public/docs/a.txt"), 404)
    assert "/p/<ref>" in public["message"]
    developer = {"HTTP_AUTHORIZATION": "Bearer not-a-key"}
    assert_storage_error(client.get("/storage/v1/bucket", **developer), 401)
    secret = {**world["headers"]["secret"], "HTTP_ORIGIN": "https://app.example"}
    assert_storage_error(client.get("/storage/v1/bucket", **secret), 401)


def _signed(world, key="a.txt"):
    response = world["client"].post(
        f"/storage/v1/object/sign/docs/{key}", {"expiresIn": 60}, format="json",
        **world["headers"]["alice"],
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()["signedURL"]


@pytest.mark.django_db
def test_signed_urls_open_without_a_key_and_bad_ones_are_400(world):
    client = APIClient()
    url = "/storage/v1" + _signed(world)
    download = client.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello"
    path, token = url.split("?token=")
    assert_storage_error(client.get(f"{path}?token={token[:-2]}xx"), 400)
    assert_storage_error(client.get(path), 400)
    assert_storage_error(client.get(f"{path}?token=%00"), 400)
    # A token of one object does not open another.
    assert_storage_error(client.get(f"/storage/v1/object/sign/docs/b.txt?token={token}"), 400)


@pytest.mark.django_db
def test_an_expired_signed_url_is_400(world, monkeypatch):
    url = "/storage/v1" + _signed(world)
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000)
    body = assert_storage_error(APIClient().get(url), 400)
    assert "expired" in body["message"]


@pytest.mark.django_db
def test_signed_upload_urls_check_their_token(world, monkeypatch):
    response = world["client"].post(
        "/storage/v1/object/upload/sign/docs/up.txt", {}, format="json",
        **world["headers"]["alice"],
    )  # fmt: skip
    assert response.status_code == 200, response.content
    url = "/storage/v1" + response.json()["url"]
    path, token = url.split("?token=")
    client = APIClient()
    for bad in (
        f"{path}?token=forged",
        path,
        f"/storage/v1/object/upload/sign/docs/other.txt?token={token}",
        f"{path}?token=" + signing.dumps({"exp": 0}, salt=storage_services.UPLOAD_SIGNING_SALT),
    ):
        assert_storage_error(client.put(bad, b"x", content_type="text/plain"), 400)
    assert stored_keys() == ["a.txt"]
    ok = client.put(url, b"up!", content_type="text/plain")
    assert ok.status_code == 200, ok.content
    assert ok.json()["Key"] == "docs/up.txt"
    # Alice's (the signer's): she lists it, anon does not see it.
    listed = world["client"].post(
        "/storage/v1/object/list/docs", {}, format="json", **world["headers"]["alice"]
    )
    assert [e["name"] for e in listed.json()] == ["a.txt", "up.txt"]
    # Once is enough: without upsert the key is taken now.
    assert_storage_error(client.put(url, b"again", content_type="text/plain"), 409)
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000)
    assert_storage_error(client.put(url, b"late", content_type="text/plain"), 400)


@pytest.mark.django_db
def test_a_bucket_the_secret_key_made_follows_the_platform(world):
    client, secret = world["client"], world["headers"]["secret"]
    response = client.post(
        "/storage/v1/bucket", {"id": "made", "public": True, "file_size_limit": "1KB"},
        format="json", **secret,
    )  # fmt: skip
    assert response.status_code == 200, response.content
    bad = client.post("/storage/v1/bucket", {"id": "Bad Name!"}, format="json", **secret)
    assert_storage_error(bad, 400)
    # The platform's own bucket, with its settings.
    set_tenant_context(TenantContext(platform_admin=True))
    from storage.models import Bucket

    made = Bucket.objects.get(name="made")
    set_tenant_context(TenantContext())
    assert made.project_id == world["project"].id and made.public and made.max_file_size == 1024


def compat_storage_routes():
    from compat.storage.urls import urlpatterns

    return [str(pattern.pattern) for pattern in urlpatterns]


def _fill_route(route: str) -> str:
    path = route.lstrip("^").replace(r"\Z", "").replace("/?", "")
    path = path.replace("(?:authenticated/)?", "")
    return "/storage/v1/" + path.replace("(?P<bucket>[^/]+)", "docs").replace(
        "(?P<key>.+)", "a.txt"
    )


@pytest.mark.django_db
def test_another_projects_key_reaches_nothing_on_any_route(world):
    """Every route, every method, with project B's key and project A's names: nothing of A's
    comes back or changes, and every answer is in Storage's shape."""
    client, other = world["client"], world["headers"]["other"]
    routes = compat_storage_routes()
    assert len(routes) == 14
    body = {"bucketId": "docs", "sourceKey": "a.txt", "destinationKey": "b.txt",
            "prefixes": ["a.txt"], "paths": ["a.txt"], "expiresIn": 60, "id": "docs"}  # fmt: skip
    for route in routes:
        url = _fill_route(route)
        for method in ("get", "post", "put", "delete"):
            response = getattr(client, method)(url, body, format="json", **other)
            assert response.status_code < 500, (method, url)
            content = b"".join(response.streaming_content) if response.streaming else b""
            assert b"hello" not in content + response.content, (method, url)
            if response.status_code >= 400:
                assert set(response.json()) == STORAGE_SHAPE, (method, url, response.content)
            if "(?P<bucket>" in route:
                assert response.status_code in (400, 403, 404, 405), (method, url)
    assert stored_keys() == ["a.txt"]


@pytest.mark.django_db
def test_downloads_and_uploads_cost_what_the_client_routes_cost(
    world, django_assert_max_num_queries
):
    """The same statements as ``/client/v1/storage/`` (12 and 19 here, savepoints included):
    key, session, context, the bucket, the object, the rule; for uploads the audit row."""
    client, alice = world["client"], world["headers"]["alice"]
    with django_assert_max_num_queries(12):
        assert client.get("/storage/v1/object/docs/a.txt", **alice).status_code == 200
    with django_assert_max_num_queries(19):
        response = client.generic(
            "POST", "/storage/v1/object/docs/n.txt", b"x", content_type="text/plain", **alice
        )
        assert response.status_code == 200
