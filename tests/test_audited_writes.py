"""Every write endpoint, walked from the URL conf: one audit row each, in the same transaction,
carrying the response's request id.

A new write route must be listed in AUDITED (with a body that succeeds) or in NOT_AUDITED
with the reason, otherwise this test fails. A viewer is refused every org-scoped write listed
in AUDITED (except VIEWERS_MAY) and leaves no audit row.

MongoDB (document indexes) is mongomock unless MONGODB_URL names a server (``document_store``),
the one fake in the suite.
"""

import re
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from authn.models import AuditEvent
from authn.services import email_verification, sessions
from compute import services as compute_services
from datastore import documents
from datastore import services as data_services
from endusers.services import accounts as end_user_accounts
from functions import services as function_services
from functions.models import Function, FunctionVersion
from observability import alerts
from observability import services as obs_services
from observability.models import Alert
from storage import services as storage_services
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
WRITE_METHODS = ("post", "put", "patch", "delete")

# (route, method) -> (body, or a function of the world giving it; the audit action expected).
AUDITED = {
    ("orgs/", "post"): ({"name": "Acme"}, "org_create"),
    ("orgs/<org>/", "patch"): ({"name": "Renamed"}, "org_update"),
    ("orgs/<org>/", "delete"): (None, "org_delete"),
    ("orgs/<org>/members/", "post"): (lambda w: {"email": w.newcomer.email}, "member_add"),
    ("orgs/<org>/members/<user_id>/", "patch"): ({"role": "admin"}, "role_change"),
    ("orgs/<org>/members/<user_id>/", "delete"): (None, "member_remove"),
    ("orgs/<org>/projects/", "post"): ({"name": "second"}, "project_create"),
    ("orgs/<org>/projects/<project>/", "put"): ({"name": "renamed"}, "project_update"),
    ("orgs/<org>/projects/<project>/", "patch"): ({"description": "d"}, "project_update"),
    ("orgs/<org>/projects/<project>/", "delete"): (None, "project_delete"),
    ("orgs/<org>/invitations/", "post"): ({"email": "guest@example.com"}, "invitation_create"),
    ("orgs/<org>/invitations/<invitation>/", "delete"): (None, "invitation_revoke"),
    ("invitations/accept/", "post"): (lambda w: {"token": w.invitation_token}, "invitation_accept"),
    ("orgs/<org>/projects/<project>/collections/", "post"): ({"name": "more"}, "collection_create"),
    ("orgs/<org>/projects/<project>/collections/<collection>/", "patch"): (
        {"indexes": ["n"]},
        "collection_update",
    ),
    ("orgs/<org>/projects/<project>/collections/<collection>/", "delete"): (
        None,
        "collection_delete",
    ),
    ("orgs/<org>/projects/<project>/rules/", "put"): (
        {
            "resource_type": "collection",
            "collection": "items",
            "operation": "select",
            "client_role": "anon",
            "kind": "everyone",
        },
        "access_rule_set",
    ),
    ("orgs/<org>/projects/<project>/documents/<collection>/indexes/", "post"): (
        {"keys": [["email", 1]]},
        "index_create",
    ),
    ("orgs/<org>/projects/<project>/documents/<collection>/indexes/<index>/", "delete"): (
        None,
        "index_drop",
    ),
    ("orgs/<org>/projects/<project>/webhooks/", "post"): (
        {"url": "http://127.0.0.1:9/w", "events": ["insert"]},
        "webhook_create",
    ),
    ("orgs/<org>/projects/<project>/webhooks/<webhook>/", "patch"): (
        {"active": False},
        "webhook_update",
    ),
    ("orgs/<org>/projects/<project>/webhooks/<webhook>/", "delete"): (None, "webhook_delete"),
    ("orgs/<org>/projects/<project>/jobs/", "post"): (
        {"name": "hourly", "schedule": "0 * * * *", "url": "http://127.0.0.1:9/j"},
        "job_create",
    ),
    ("orgs/<org>/projects/<project>/jobs/<job>/", "patch"): ({"enabled": False}, "job_update"),
    ("orgs/<org>/projects/<project>/jobs/<job>/", "delete"): (None, "job_delete"),
    ("orgs/<org>/projects/<project>/jobs/<job>/runs/", "post"): (None, "job_run_requested"),
    # The same content as the active version: re-activated without a sandbox check.
    ("orgs/<org>/projects/<project>/functions/", "post"): (
        lambda w: {"name": "fn", "source": FUNCTION_SOURCE},
        "function_deploy",
    ),
    ("orgs/<org>/projects/<project>/functions/<function>/", "patch"): (
        {"timeout_seconds": 5},
        "function_update",
    ),
    ("orgs/<org>/projects/<project>/functions/<function>/", "delete"): (None, "function_delete"),
    ("orgs/<org>/projects/<project>/functions/<function>/rollback/", "post"): (
        {"version": 1},
        "function_rollback",
    ),
    ("orgs/<org>/projects/<project>/buckets/", "post"): ({"name": "more"}, "bucket_create"),
    ("orgs/<org>/projects/<project>/buckets/<bucket>/", "delete"): (None, "bucket_delete"),
    ("orgs/<org>/projects/<project>/buckets/<bucket>/objects/", "post"): (
        lambda w: {"key": "new.txt", "file": SimpleUploadedFile("f", b"x")},
        "object_put",
    ),
    ("orgs/<org>/projects/<project>/buckets/<bucket>/objects/<key>", "delete"): (
        None,
        "object_delete",
    ),
    ("orgs/<org>/projects/<project>/buckets/<bucket>/sign/", "post"): (
        {"key": "a/b.txt"},
        "object_url_sign",
    ),
    ("orgs/<org>/alert-channels/", "post"): (
        {"name": "ops", "kind": "slack", "target": "http://127.0.0.1:9/s"},
        "alert_channel_create",
    ),
    ("orgs/<org>/alert-channels/<channel>/", "delete"): (None, "alert_channel_delete"),
    ("orgs/<org>/alert-channels/<channel>/test/", "post"): (None, "alert_channel_test"),
    ("orgs/<org>/alerts/<alert>/acknowledge/", "post"): (None, "alert_acknowledge"),
    ("auth/register/", "post"): (
        {"email": "new@example.com", "password": "a long passphrase"},
        "register",
    ),
    ("auth/login/", "post"): (lambda w: {"email": w.owner.email, "password": PASSWORD}, "login_ok"),
    ("auth/refresh/", "post"): (lambda w: {"refresh": w.refresh_token}, "refresh"),
    ("auth/logout/", "post"): (None, "logout"),
    ("auth/logout-all/", "post"): (None, "logout_all"),
    ("auth/me/", "patch"): ({"first_name": "Ada"}, "user_update"),
    ("auth/switch-org/", "post"): ({"org": "org-a"}, "org_switch"),
    ("auth/password/change/", "post"): (
        {"current_password": PASSWORD, "new_password": "a new long passphrase"},
        "password_change",
    ),
    ("auth/password/reset/", "post"): (
        lambda w: {"email": w.owner.email},
        "password_reset_request",
    ),
    ("auth/password/reset/confirm/", "post"): (
        lambda w: {**w.reset, "new_password": "a reset passphrase"},
        "password_reset",
    ),
    ("auth/email/verify/", "post"): (None, "email_verify_request"),
    ("auth/email/verify/confirm/", "post"): (lambda w: {"token": w.verify_token}, "email_verified"),
    ("auth/sessions/<session_id>/", "delete"): (None, "session_revoke"),
    ("orgs/<org>/projects/<project>/keys/", "post"): ({"kind": "secret"}, "api_key_create"),
    ("orgs/<org>/projects/<project>/keys/<key_id>/", "delete"): (None, "api_key_revoke"),
    # A rotation is a new key and the old one revoked: both rows, in that order.
    ("orgs/<org>/projects/<project>/keys/<key_id>/rotate/", "post"): (
        None,
        ["api_key_create", "api_key_revoke"],
    ),
    ("orgs/<org>/projects/<project>/end-users/<end_user>/", "patch"): (
        {"app_metadata": {"roles": ["staff"]}},
        "end_user_update",
    ),
    ("orgs/<org>/projects/<project>/end-users/<end_user>/", "delete"): (None, "end_user_delete"),
    ("orgs/<org>/projects/<project>/end-users/<end_user>/sessions/", "delete"): (
        None,
        "end_user_session_revoke",
    ),
    ("orgs/<org>/projects/<project>/auth-settings/", "patch"): (
        {"signup": "confirm"},
        "auth_settings_update",
    ),
}

# Writes that leave no audit row, and why.
NOT_AUDITED = {
    **{
        (route, method): "client data: announced after commit (webhooks, realtime), not audited"
        for route, methods in {
            "orgs/<org>/projects/<project>/collections/<collection>/records/": ("post",),
            "orgs/<org>/projects/<project>/collections/<collection>/records/<record>/": (
                "put",
                "patch",
                "delete",
            ),
            "orgs/<org>/projects/<project>/documents/<collection>/": ("post",),
            "orgs/<org>/projects/<project>/documents/<collection>/<document>/": (
                "put",
                "patch",
                "delete",
            ),
        }.items()
        for method in methods
    },
    ("orgs/<org>/projects/<project>/documents/<collection>/aggregate/", "post"): (
        "a read: the pipeline travels in the body"
    ),
    ("orgs/<org>/projects/<project>/functions/<function>/invoke/", "post"): (
        "a test run: its Invocation row is its record (tests/functions)"
    ),
}
FUNCTION_SOURCE = "Deno.serve(() => new Response('audited'));"

# Anonymous by nature: the audit row's actor is the account, found from the body.
ANONYMOUS = {
    "auth/register/",
    "auth/login/",
    "auth/refresh/",
    "auth/password/reset/",
    "auth/password/reset/confirm/",
    "auth/email/verify/confirm/",
}
# Org-scoped writes a viewer may make.
VIEWERS_MAY = {("orgs/<org>/projects/<project>/buckets/<bucket>/sign/", "post")}


def write_routes(resolver=None, prefix="") -> set[tuple[str, str]]:
    """(route with <names>, method) for every write handler under /api/v1/."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found = set()
    for entry in (resolver or get_resolver()).url_patterns:
        pattern = prefix + str(entry.pattern).removeprefix("^").removesuffix("$")
        if isinstance(entry, URLResolver):
            found |= write_routes(entry, pattern)
        elif isinstance(entry, URLPattern) and pattern.startswith(API_PREFIX):
            route = re.sub(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>", _name, pattern)
            route = route.replace("/?", "/")[len(API_PREFIX) :]
            view = entry.callback.view_class
            found |= {(route, m) for m in WRITE_METHODS if hasattr(view, m)}
    return found


def _name(match) -> str:
    return f"<{match.group(1) or match.group(2)}>"


def test_every_write_route_is_audited_or_explained():
    writes = write_routes()
    assert len(writes) > 40
    assert sorted(writes - set(AUDITED) - set(NOT_AUDITED)) == [], "add to AUDITED or NOT_AUDITED"
    assert sorted((set(AUDITED) | set(NOT_AUDITED)) - writes) == [], "listed but not routed"


@pytest.fixture
def mongo(document_store):
    return document_store


@dataclass
class World:
    owner: object
    newcomer: object
    values: dict
    invitation_token: str
    invitee: object
    refresh_token: str
    reset: dict
    verify_token: str


@pytest.fixture
def world(org, user, mongo):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    owner = org.memberships.select_related("org", "user").get(user=user)
    member = services.member_add(membership=owner, email=UserFactory().email, role=Role.DEVELOPER)
    project = services.project_create(membership=owner, name="app")
    data_services.collection_create(membership=owner, project=project, name="items")
    notes = data_services.collection_create(
        membership=owner, project=project, name="notes", store="documents"
    )
    index = documents.TenantDocuments(collection=notes, membership=owner).create_index([["n", 1]])
    invitee = UserFactory()
    invitation, token = services.member_invite(membership=owner, email=invitee.email)
    hook = compute_services.webhook_create(
        membership=owner, project=project, url="http://127.0.0.1:9/hook", events=["insert"]
    )
    job = compute_services.job_create(
        membership=owner,
        project=project,
        name="nightly",
        schedule="0 3 * * *",
        url="http://127.0.0.1:9/j",
    )
    function = Function.objects.create(org=org, project=project, name="fn", created_by=user)
    function.active_version = FunctionVersion.objects.create(
        org=org,
        function=function,
        number=1,
        source=FUNCTION_SOURCE,
        source_hash=function_services.source_hash(FUNCTION_SOURCE),
    )
    function.save()
    bucket = storage_services.bucket_create(membership=owner, project=project, name="files")
    storage_services.object_put(
        membership=owner, bucket=bucket, key="a/b.txt", upload=SimpleUploadedFile("f", b"abc")
    )
    channel = obs_services.channel_create(
        membership=owner, name="c", kind="slack", target="http://127.0.0.1:9/c"
    )
    key, _ = services.api_key_create(membership=owner, project=project, kind="publishable")
    end_user = end_user_accounts.end_user_create(project=project, email="end@example.com")
    assert alerts.raise_event("backup_failed", key="nightly", org_id=org.id) == "fired"
    set_tenant_context(TenantContext(platform_admin=True))
    alert = Alert.objects.get(org=org)
    other_session = sessions.session_start(user=user)
    set_tenant_context(TenantContext())
    verify = signing.dumps(
        {"u": user.pk, "e": user.email}, salt=email_verification.EMAIL_VERIFY_SALT
    )
    return World(
        owner=user,
        newcomer=UserFactory(),
        values={
            "org": "org-a",
            "project": project.id,
            "user_id": member.user_id,
            "invitation": invitation.id,
            "collection": "items",
            "index": index,
            "webhook": hook.id,
            "job": job.id,
            "function": "fn",
            "bucket": "files",
            "key": "a/b.txt",
            "channel": channel.id,
            "alert": alert.id,
            "session_id": other_session.session_id,
            "key_id": key.id,
            "end_user": end_user.id,
        },
        invitation_token=token,
        invitee=invitee,
        refresh_token=other_session.refresh,
        reset={
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
        verify_token=verify,
    )


def _url(route: str, world: World) -> str:
    path = route
    if "/documents/" in route:
        path = path.replace("<collection>", "notes")
    for name, value in world.values.items():
        path = path.replace(f"<{name}>", str(value))
    assert "<" not in path, path
    return "/api/v1/" + path


def _send(client, method: str, url: str, body, request_id: str):
    multipart = isinstance(body, dict) and any(hasattr(v, "read") for v in body.values())
    return getattr(client, method)(
        url,
        body,
        format="multipart" if multipart else "json",
        HTTP_X_REQUEST_ID=request_id,
    )


def _events(request_id: str) -> list[AuditEvent]:
    set_tenant_context(TenantContext(platform_admin=True))
    events = list(AuditEvent.objects.filter(request_id=request_id))
    set_tenant_context(TenantContext())
    return events


@pytest.mark.parametrize(
    ("route", "method"), sorted(AUDITED), ids=[f"{m} {r}" for r, m in sorted(AUDITED)]
)
def test_write_records_one_audit_event(route, method, world, client_for):
    body, action = AUDITED[(route, method)]
    body = body(world) if callable(body) else body
    caller = world.invitee if route == "invitations/accept/" else world.owner
    client = APIClient() if route in ANONYMOUS else client_for(caller)
    request_id = f"audit-{uuid.uuid4().hex}"
    response = _send(client, method, _url(route, world), body, request_id)
    assert 200 <= response.status_code < 300, (route, method, response.content)
    assert response["X-Request-ID"] == request_id
    events = _events(response["X-Request-ID"])
    expected = action if isinstance(action, list) else [action]
    assert sorted(e.action for e in events) == sorted(expected), (route, method)
    if route not in ANONYMOUS:
        assert events[0].actor_id == caller.pk
    if route.startswith("orgs/<org>"):
        assert events[0].org_id is not None


ORG_WRITES = sorted(k for k in AUDITED if k[0].startswith("orgs/<org>") and k not in VIEWERS_MAY)


@pytest.mark.parametrize(("route", "method"), ORG_WRITES, ids=[f"{m} {r}" for r, m in ORG_WRITES])
def test_viewer_is_refused_every_org_write_and_leaves_no_event(route, method, world, client_for):
    viewer = UserFactory()
    services.member_add(membership=_owner_membership(), email=viewer.email, role=Role.VIEWER)
    set_tenant_context(TenantContext())
    body, _action = AUDITED[(route, method)]
    body = body(world) if callable(body) else body
    request_id = f"viewer-{uuid.uuid4().hex}"
    response = _send(client_for(viewer), method, _url(route, world), body, request_id)
    assert response.status_code == 403, (route, method, response.status_code)
    assert _events(request_id) == []


def _owner_membership():
    from tenants.models import Membership, Organization

    set_tenant_context(TenantContext(platform_admin=True))
    org = Organization.objects.get(slug="org-a")
    owner = Membership.objects.select_related("org", "user").get(org=org, role=Role.OWNER)
    set_tenant_context(TenantContext(org_id=org.id, user_id=owner.user_id, role=Role.OWNER))
    return owner


class RolledBack(Exception):
    pass


def _project_write(owner):
    services.project_create(membership=owner, name="rolled-back")


def _collection_write(owner):
    project = services.project_create(membership=owner, name="kept")
    data_services.collection_create(membership=owner, project=project, name="rolled_back")


def _record_write(owner):
    project = services.project_create(membership=owner, name="kept")
    collection = data_services.collection_create(membership=owner, project=project, name="items")
    data_services.record_create(membership=owner, collection=collection, data={"a": 1})


@pytest.mark.parametrize("write", [_project_write, _collection_write, _record_write])
def test_a_write_rolled_back_after_its_audit_call_leaves_no_audit_row(write, org, user):
    """The audit row is part of the write's transaction: when the caller's transaction rolls
    back after the service returned (and so after the service wrote its audit row), the row
    goes with it. An audit written on another connection or after commit would stay."""
    owner = _owner_membership()
    set_tenant_context(TenantContext(platform_admin=True))
    before = AuditEvent.objects.count()
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    with pytest.raises(RolledBack), transaction.atomic():
        write(owner)
        set_tenant_context(TenantContext(platform_admin=True))
        assert AuditEvent.objects.count() > before  # written, inside the transaction
        raise RolledBack
    set_tenant_context(TenantContext(platform_admin=True))
    assert AuditEvent.objects.count() == before
    set_tenant_context(TenantContext())
