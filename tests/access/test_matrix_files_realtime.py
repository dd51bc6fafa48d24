"""The access rules on files and realtime, cell by cell.

Callers: anon (the publishable key), end users A and B, an end user with the app role
"editor", the secret key, a developer's token, another project's key. Operations: select
(list, download, signed URL; realtime: receiving change events), insert (upload; realtime:
sending on a private channel), update (overwrite), delete. Two rule sets: the demo rules
(authenticated end users own their rows) and "public read" (everyone reads, editors write).
Every allowed cell works; every denied cell is 401/403/404 (or a refused socket, or no
event) and leaves the objects in the database as they were.
"""

import hashlib

import pytest
from rest_framework.test import APIClient

from access import services as access_services
from access.constants import SERVICE_ROLE
from endusers.models import EndUser
from endusers.services.sessions import end_user_session_start
from storage import services as storage_services
from storage.models import StoredObject
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context
from tests.access.conftest import as_client
from tests.datastore.conftest import as_member

CALLERS = ("anon", "alice", "bob", "editor", "secret", "developer", "other_key")
OPERATIONS = ("select", "insert", "update", "delete")
DEMO = {op: ("authenticated", "owner", "") for op in OPERATIONS}
PUBLIC_READ = {
    "select": [("anon", "everyone", ""), ("authenticated", "everyone", "")],
    **{op: [("authenticated", "role", "editor")] for op in ("insert", "update", "delete")},
}
RULE_SETS = {
    "demo": {op: [rule] for op, rule in DEMO.items()},
    "public_read": PUBLIC_READ,
}


# --- the project -------------------------------------------------------------------------------
def setup_project(membership, project, other_membership, other_project):
    """Keys of both projects and three end users with live sessions: caller -> headers."""
    as_member(membership)
    _, publishable = tenant_services.api_key_create(
        membership=membership, project=project, kind="publishable"
    )
    _, secret = tenant_services.api_key_create(
        membership=membership, project=project, kind="secret", name="server"
    )
    as_member(other_membership)
    _, other = tenant_services.api_key_create(
        membership=other_membership, project=other_project, kind="publishable"
    )
    as_client(project, SERVICE_ROLE)
    users = {
        name: EndUser.objects.create(
            org_id=project.org_id,
            project=project,
            email=f"{name}@example.com",
            app_metadata={"roles": ["editor"]} if name == "editor" else {},
        )  # fmt: skip
        for name in ("alice", "bob", "editor")
    }
    set_tenant_context(TenantContext())
    headers = {"anon": {"HTTP_APIKEY": publishable}, "secret": {"HTTP_APIKEY": secret}}
    tokens = {}
    for name, end_user in users.items():
        session = end_user_session_start(project=project, end_user=end_user)
        tokens[name] = session.access_token
        headers[name] = {
            "HTTP_APIKEY": publishable,
            "HTTP_AUTHORIZATION": f"Bearer {session.access_token}",
        }
    headers["other_key"] = {"HTTP_APIKEY": other}
    return headers, users, {"publishable": publishable, "secret": secret, "other": other}


def set_rules(membership, project, rule_set, **target):
    as_member(membership)
    for operation, rules in rule_set.items():
        for client_role, kind, app_role in rules:
            access_services.rule_set(
                membership=membership, project=project, operation=operation,
                client_role=client_role, kind=kind, app_role=app_role, **target,
            )  # fmt: skip
    set_tenant_context(TenantContext())


# --- files -------------------------------------------------------------------------------------
BUCKET = "/client/v1/storage/photos/"


def obj_url(key):
    return f"{BUCKET}object/{key}"


def stored():
    """Every object of every org, as the database holds it: key -> (sha256, end user)."""
    set_tenant_context(TenantContext(platform_admin=True))
    rows = {o.key: (o.sha256, o.end_user_id) for o in StoredObject.objects.all()}
    set_tenant_context(TenantContext())
    return rows


def put(client, headers, key, body: bytes, content_type="text/plain"):
    return client.generic("PUT", obj_url(key), body, content_type=content_type, **headers)


@pytest.fixture
def files(membership_a, project_a, membership_b, project_b, developer_headers):
    as_member(membership_a)
    bucket = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="photos"
    )
    set_tenant_context(TenantContext())
    headers, users, keys = setup_project(membership_a, project_a, membership_b, project_b)
    headers["developer"] = {"HTTP_APIKEY": keys["publishable"], **developer_headers}
    set_rules(membership_a, project_a, RULE_SETS["demo"], resource_type="bucket",
              resource_id=bucket.id)  # fmt: skip
    client = APIClient()
    for caller, key in (("alice", "a.txt"), ("bob", "b.txt"), ("secret", "s.txt")):
        response = put(client, headers[caller], key, f"{caller}'s file".encode())
        assert response.status_code == 201, response.content
    return {"headers": headers, "users": users, "bucket": bucket, "client": client}


@pytest.fixture
def developer_headers(membership_a):
    from tests.tokens import access_token

    return {"HTTP_AUTHORIZATION": f"Bearer {access_token(membership_a.user)}"}


# (rule set, caller) -> what each operation gives: list = keys listed, or a status code.
FILE_CELLS = {
    "demo": {
        "anon": {"list": 403, "get": 404, "insert": 403, "update": 403, "delete": 404},
        "alice": {"list": ["a.txt"], "get": 200, "insert": 201, "update": 200, "delete": 204},
        "bob": {"list": ["b.txt"], "get": 404, "insert": 201, "update": 403, "delete": 404},
        "editor": {"list": [], "get": 404, "insert": 201, "update": 403, "delete": 404},
    },
    "public_read": {
        "anon": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 403,
                 "update": 403, "delete": 403},
        "alice": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 403,
                  "update": 403, "delete": 403},
        "bob": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 403,
                "update": 403, "delete": 403},
        "editor": {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 201,
                   "update": 200, "delete": 204},
    },
}  # fmt: skip
for cells in FILE_CELLS.values():
    cells["secret"] = {"list": ["a.txt", "b.txt", "s.txt"], "get": 200, "insert": 201,
                       "update": 200, "delete": 204}  # fmt: skip
    cells["developer"] = dict.fromkeys(("list", "get", "insert", "update", "delete"), 401)
    cells["other_key"] = dict.fromkeys(("list", "get", "insert", "update", "delete"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize("rule_set", sorted(FILE_CELLS))
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", ("list", "get", "insert", "update", "delete"))
def test_file_cell(files, membership_a, project_a, rule_set, caller, operation):
    if rule_set != "demo":
        set_rules(membership_a, project_a, RULE_SETS[rule_set], resource_type="bucket",
                  resource_id=files["bucket"].id)  # fmt: skip
    client, headers = files["client"], files["headers"][caller]
    expected = FILE_CELLS[rule_set][caller][operation]
    before = stored()
    if operation == "list":
        response = client.get(BUCKET, **headers)
    elif operation == "get":
        response = client.get(obj_url("a.txt"), **headers)
    elif operation == "insert":
        response = put(client, headers, "new.txt", b"new bytes")
    elif operation == "update":
        response = put(client, headers, "a.txt", b"overwritten")
    else:
        response = client.delete(obj_url("a.txt"), **headers)
    status = 200 if isinstance(expected, list) else expected
    assert response.status_code == status, (response.status_code, response.content[:300])
    after = stored()
    if status >= 400:
        body = response.json()["error"]
        assert body["status"] == status and body["code"]
        assert after == before  # a denied cell changes nothing
        return
    if operation == "list":
        assert [o["key"] for o in response.json()] == expected
        assert after == before
    elif operation == "get":
        assert b"".join(response.streaming_content) == b"alice's file"
        digest = hashlib.sha256(b"alice's file").hexdigest()
        assert response["ETag"] == f'"{digest}"'
        assert after == before
    elif operation == "insert":
        end_user = files["users"].get(caller)
        assert after["new.txt"] == (
            hashlib.sha256(b"new bytes").hexdigest(),
            end_user.id if end_user else None,
        )
        assert {k: v for k, v in after.items() if k != "new.txt"} == before
    elif operation == "update":
        assert after["a.txt"][0] == hashlib.sha256(b"overwritten").hexdigest()
        assert after["a.txt"][1] == before["a.txt"][1]  # still alice's
    else:
        assert "a.txt" not in after and len(after) == len(before) - 1


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
def test_signed_urls_only_for_callers_the_select_rule_allows(files, caller):
    client, headers = files["client"], files["headers"][caller]
    response = client.post(f"{BUCKET}sign/a.txt", {"expires_in": 60}, format="json", **headers)
    expected = {"alice": 200, "secret": 200, "developer": 401}.get(caller, 404)
    assert response.status_code == expected, response.content
    if expected != 200:
        assert response.json()["error"]["status"] == expected
        return
    url = response.json()["url"]
    download = APIClient().get(url.split("testserver", 1)[1])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"alice's file"


@pytest.mark.django_db
def test_public_buckets_stay_public_for_downloads(files, membership_a, project_a):
    as_member(membership_a)
    storage_services.bucket_delete(membership=membership_a, bucket=files["bucket"])
    public = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="photos", public=True
    )
    set_rules(membership_a, project_a, RULE_SETS["demo"], resource_type="bucket",
              resource_id=public.id)  # fmt: skip
    client, headers = files["client"], files["headers"]
    assert put(client, headers["alice"], "avatar.png", b"\x89PNG", "image/png").status_code == 201
    anon = headers["anon"]
    download = client.get(obj_url("avatar.png"), **anon)
    assert download.status_code == 200 and download["Cache-Control"].startswith("public")
    assert client.get(BUCKET, **anon).status_code == 403  # listing still follows the rules
    assert put(client, anon, "avatar.png", b"x").status_code == 403
    # Not in the caller's rules: a public download does not make it visible to writes.
    assert client.delete(obj_url("avatar.png"), **anon).status_code == 404
    assert "avatar.png" in stored()
    assert client.get(obj_url("missing.png"), **anon).status_code == 404


@pytest.mark.django_db
def test_uploads_keep_the_bucket_limits_and_bad_input_is_400(files, membership_a, project_a):
    client, alice = files["client"], files["headers"]["alice"]
    as_member(membership_a)
    bucket = storage_services.bucket_create(
        membership=membership_a, project=project_a, name="small", max_file_size=4,
        allowed_content_types=["image/*"],
    )  # fmt: skip
    set_rules(membership_a, project_a, RULE_SETS["demo"], resource_type="bucket",
              resource_id=bucket.id)  # fmt: skip
    url = "/client/v1/storage/small/object/x.png"
    too_big = client.generic("PUT", url, b"12345", content_type="image/png", **alice)
    wrong_type = client.generic("PUT", url, b"123", content_type="text/html", **alice)
    empty = client.generic("PUT", url, b"", content_type="image/png", **alice)
    bad_type = client.generic("PUT", url, b"123", content_type="not a type", **alice)
    for response in (too_big, wrong_type, empty, bad_type):
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"]
    bad_key = client.generic("PUT", BUCKET + "object/../x", b"1", **alice)
    assert bad_key.status_code == 404
    assert "x.png" not in stored()
    ok = client.generic("PUT", url, b"1234", content_type="image/png", **alice)
    assert ok.status_code == 201
    ranged = client.get(url, HTTP_RANGE="bytes=1-2", **alice)
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"23"
    etag = ranged["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag, **alice).status_code == 304


@pytest.mark.django_db
def test_deleting_an_end_user_keeps_their_files_ownerless(files, project_a):
    as_client(project_a, SERVICE_ROLE)
    EndUser.objects.filter(pk=files["users"]["alice"].pk).delete()
    set_tenant_context(TenantContext())
    assert stored()["a.txt"][1] is None
