"""A project's Studio pages: API keys, Authentication (end users, sessions, ban, confirm),
sign-up settings and access rules. Who may read and who may change each page follows the
permission map; another org's admin gets 404; every change goes through a service and leaves
an audit row."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from access.selectors import rule_list
from authn.constants import AuditAction
from authn.models import AuditEvent, Session
from endusers.models import ProjectAuthSettings
from endusers.services.sessions import end_user_session_start
from storage import services as storage_services
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tenants.models import ProjectKey
from tests.datastore.conftest import as_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
WHO = "/client/v1/project/"
PLATFORM = TenantContext(platform_admin=True)


def base(project) -> str:
    return f"/studio/o/org-a/p/{project.id}/"


@pytest.fixture
def members(add_member):
    return {role: add_member(role).user for role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER)}


@pytest.fixture
def alice(project_a, make_end_user):
    return make_end_user(project_a, "alice@example.com")


@pytest.fixture
def publishable(membership_a, project_a):
    as_member(membership_a)
    _, raw = services.api_key_create(membership=membership_a, project=project_a, kind="publishable")
    set_tenant_context(TenantContext())
    return raw


def pages(project, end_user, collection) -> list[str]:
    root = base(project)
    return [
        root + "keys/",
        root,
        root + "logs/",
        root + "auth/",
        root + f"auth/users/{end_user.id}/",
        root + "auth/settings/",
        root + "rules/",
        root + f"rules/collection/{collection.id}/",
    ]


WRITE_CONTROLS = ('name="action"', "Save</button>", "Save rules", "Create key", "Rotate<")


def write_controls(body: str) -> list[str]:
    return [marker for marker in WRITE_CONTROLS if marker in body]


def audit_count(action: str) -> int:
    with tenant_context(PLATFORM):
        return AuditEvent.objects.filter(action=action).count()


def test_admin_and_owner_reach_every_page_another_orgs_admin_gets_404(
    client,
    user,
    members,
    project_a,
    alice,
    todos,
    membership_b,
):
    urls = pages(project_a, alice, todos)
    for who in (user, members[Role.ADMIN]):
        client.force_login(who)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url, response.status_code)
            assert 'id="read-only"' not in response.content.decode(), url
    client.force_login(membership_b.user)  # the owner of org B
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"kind": "secret"}).status_code == 404, url
    # Org B's own URL with org A's project: not found either.
    other = f"/studio/o/org-b/p/{project_a.id}/keys/"
    assert client.get(other).status_code == 404
    client.force_login(members[Role.DEVELOPER])  # every page but the keys (MANAGE_API_KEYS)
    for url in urls:
        assert client.get(url).status_code == (403 if url.endswith("/keys/") else 200), url


def test_the_org_page_links_each_project_to_its_pages(client, user, project_a):
    client.force_login(user)
    body = client.get("/studio/o/org-a/").content.decode()
    for section in ("keys/", "auth/", "rules/"):
        assert base(project_a) + section in body


def test_a_key_made_in_the_studio_is_shown_once_works_and_revoke_refuses_it(
    api_client,
    client,
    user,
    project_a,
):
    client.force_login(user)
    created = client.post(base(project_a) + "keys/", {"kind": "publishable", "name": "web"})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    body = created.content.decode()
    raw = re.search(r'value="(sb_publishable_[^"]+)"', body).group(1)
    assert f'createClient("http://testserver", "{raw}")' in body  # the snippet, this once
    assert api_client.get(WHO, HTTP_APIKEY=raw).json()["role"] == "anon"
    listing = client.get(base(project_a) + "keys/").content.decode()
    with tenant_context(PLATFORM):
        key = ProjectKey.objects.get(project=project_a)
    assert key.prefix in listing and "web" in listing
    assert raw not in listing  # the key in clear was shown once, on the page after the POST
    assert key.key_hash not in listing
    assert audit_count(AuditAction.API_KEY_CREATE) == 1

    revoked = client.post(base(project_a) + f"keys/{key.id}/revoke/")
    assert revoked.status_code == 302
    assert api_client.get(WHO, HTTP_APIKEY=raw).status_code == 401
    assert audit_count(AuditAction.API_KEY_REVOKE) == 1
    # A GET does not revoke; a revoked key is not rotated.
    assert client.get(base(project_a) + f"keys/{key.id}/revoke/").status_code == 403
    client.post(base(project_a) + f"keys/{key.id}/rotate/")
    with tenant_context(PLATFORM):
        assert ProjectKey.objects.filter(project=project_a).count() == 1


def test_rotate_shows_the_new_key_once_and_the_old_one_stops(
    api_client,
    client,
    user,
    project_a,
    publishable,
):
    client.force_login(user)
    with tenant_context(PLATFORM):
        old = ProjectKey.objects.get(project=project_a)
    rotated = client.post(base(project_a) + f"keys/{old.id}/rotate/")
    assert rotated.status_code == 200
    raw = re.search(r'value="(sb_publishable_[^"]+)"', rotated.content.decode()).group(1)
    assert raw != publishable
    assert api_client.get(WHO, HTTP_APIKEY=publishable).status_code == 401
    assert api_client.get(WHO, HTTP_APIKEY=raw).status_code == 200


def test_bad_key_input_is_the_form_again_not_an_error(client, user, project_a):
    client.force_login(user)
    for data in ({"kind": "master"}, {"kind": "secret", "name": "x" * 121}, {}):
        response = client.post(base(project_a) + "keys/", data)
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    with tenant_context(PLATFORM):
        assert not ProjectKey.objects.filter(project=project_a).exists()
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.post(base(project_a) + f"keys/{unknown}/revoke/").status_code == 404


def test_viewer_reads_end_users_and_rules_but_changes_nothing(
    client,
    members,
    project_a,
    alice,
    todos,
):
    client.force_login(members[Role.VIEWER])
    root = base(project_a)
    assert client.get(root + "keys/").status_code == 403  # keys: MANAGE_API_KEYS to read
    for url in pages(project_a, alice, todos)[1:]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'id="read-only"' in response.content.decode()
        assert not write_controls(response.content.decode()), url
    writes = [
        (root + "keys/", {"kind": "secret"}),
        (root + f"auth/users/{alice.id}/", {"action": "ban", "hours": "24"}),
        (root + f"auth/users/{alice.id}/", {"action": "confirm_email"}),
        (root + "auth/settings/", {"signup": "closed"}),
        (root + f"rules/collection/{todos.id}/", {"select-anon-kind": "everyone"}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    with tenant_context(PLATFORM):
        alice.refresh_from_db()
        assert alice.banned_until is None and alice.email_confirmed_at is None
        assert not ProjectAuthSettings.objects.filter(project=project_a).exists()
        assert not rule_list(project=project_a).exists()


def test_end_users_search_and_detail_show_sign_up_and_sessions(
    client,
    user,
    project_a,
    make_end_user,
):
    alice = make_end_user(project_a, "alice@example.com")
    make_end_user(project_a, "bob@example.com")
    session = end_user_session_start(project=project_a, end_user=alice)
    client.force_login(user)
    found = client.get(base(project_a) + "auth/", {"q": "ALICE"}).content.decode()
    assert "alice@example.com" in found and "bob@example.com" not in found
    everyone = client.get(base(project_a) + "auth/").content.decode()
    assert "alice@example.com" in everyone and "bob@example.com" in everyone
    assert "2 end users" in everyone
    detail = client.get(base(project_a) + f"auth/users/{alice.id}/").content.decode()
    assert session.session_id in detail and "live" in detail
    assert "Revoke all sessions" in detail and "Confirm email" in detail


def test_ban_ends_every_session_at_once_and_unban_lifts_it(
    api_client,
    client,
    user,
    project_a,
    alice,
    publishable,
):
    sessions = [end_user_session_start(project=project_a, end_user=alice) for _ in range(2)]
    for s in sessions:
        who = api_client.get(
            WHO, HTTP_APIKEY=publishable, HTTP_AUTHORIZATION=f"Bearer {s.access_token}"
        )
        assert who.json()["end_user_id"] == str(alice.id)
    client.force_login(user)
    url = base(project_a) + f"auth/users/{alice.id}/"
    assert client.post(url, {"action": "ban", "hours": "24"}).status_code == 303
    for s in sessions:
        refused = api_client.get(
            WHO, HTTP_APIKEY=publishable, HTTP_AUTHORIZATION=f"Bearer {s.access_token}"
        )
        assert refused.status_code == 401
    with tenant_context(PLATFORM):
        alice.refresh_from_db()
        assert alice.banned_until > timezone.now() + timedelta(hours=23)
        ended = Session.objects.filter(end_user=alice)
        assert {s.revoke_reason for s in ended} == {"end_user_banned"}
    assert audit_count(AuditAction.END_USER_BAN) == 1
    page = client.get(url).content.decode()
    assert "banned until" in page and "Unban" in page
    # A ban length that is not offered is refused, not saved.
    assert client.post(url, {"action": "ban", "hours": "-5"}).status_code == 200
    assert client.post(url, {"action": "unban"}).status_code == 303
    with tenant_context(PLATFORM):
        alice.refresh_from_db()
        assert alice.banned_until is None
    assert "active" in client.get(url).content.decode()


def test_revoke_sessions_and_confirm_email(
    api_client,
    client,
    user,
    project_a,
    alice,
    publishable,
):
    session = end_user_session_start(project=project_a, end_user=alice)
    client.force_login(user)
    url = base(project_a) + f"auth/users/{alice.id}/"
    assert client.post(url, {"action": "revoke_sessions"}).status_code == 303
    refused = api_client.get(
        WHO, HTTP_APIKEY=publishable, HTTP_AUTHORIZATION=f"Bearer {session.access_token}"
    )
    assert refused.status_code == 401
    assert audit_count(AuditAction.END_USER_SESSION_REVOKE) == 1
    assert client.post(url, {"action": "confirm_email"}).status_code == 303
    with tenant_context(PLATFORM):
        alice.refresh_from_db()
        assert alice.email_confirmed_at is not None and alice.banned_until is None
    assert audit_count(AuditAction.END_USER_UPDATE) == 1  # email_confirmed_at
    assert client.post(url, {"action": "nonsense"}).status_code == 200  # the page, with a note
    unknown = base(project_a) + "auth/users/00000000-0000-0000-0000-000000000000/"
    assert client.get(unknown).status_code == 404


def test_an_end_user_of_another_project_is_not_found_here(
    client,
    user,
    project_a,
    membership_a,
    make_end_user,
):
    as_member(membership_a)
    second = services.project_create(membership=membership_a, name="second")
    set_tenant_context(TenantContext())
    stranger = make_end_user(second, "stranger@example.com")
    client.force_login(user)
    assert client.get(base(project_a) + f"auth/users/{stranger.id}/").status_code == 404
    assert "stranger@" not in client.get(base(project_a) + "auth/").content.decode()


def test_sign_up_settings_are_saved_through_the_service(client, user, project_a):
    client.force_login(user)
    url = base(project_a) + "auth/settings/"
    page = client.get(url).content.decode()
    assert 'value="open" selected' in page  # the defaults, before any row exists
    saved = client.post(
        url, {"signup": "confirm", "anonymous_sign_in": "on", "site_url": "https://app.example"}
    )
    assert saved.status_code == 303
    with tenant_context(PLATFORM):
        settings = ProjectAuthSettings.objects.get(project=project_a)
    assert (settings.signup, settings.anonymous_sign_in, settings.site_url) == (
        "confirm",
        True,
        "https://app.example",
    )
    assert audit_count(AuditAction.AUTH_SETTINGS_UPDATE) == 1
    bad = client.post(url, {"signup": "sometimes", "site_url": "not a url"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    with tenant_context(PLATFORM):
        assert ProjectAuthSettings.objects.get(project=project_a).signup == "confirm"


def test_rules_form_saves_through_rule_set_and_shows_the_policy(
    client,
    user,
    project_a,
    todos,
):
    client.force_login(user)
    url = base(project_a) + f"rules/collection/{todos.id}/"
    index = client.get(base(project_a) + "rules/").content.decode()
    assert url in index and "0 rules allowing" in index
    page = client.get(url).content.decode()
    assert page.count("no rule: nobody") == 8  # 4 operations x 2 roles
    form = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert", "update", "delete")
            for role in ("anon", "authenticated")}  # fmt: skip
    form.update(
        {
            "select-anon-kind": "everyone",
            "select-anon-conditions": "published:eq:true",
            "update-authenticated-kind": "role",
            "update-authenticated-app_role": "editor",
            "delete-authenticated-kind": "owner",
        }
    )
    assert client.post(url, form).status_code == 303
    with tenant_context(PLATFORM):
        saved = {(r.operation, r.client_role): r for r in rule_list(project=project_a)}
    assert set(saved) == {("select", "anon"), ("update", "authenticated"),
                          ("delete", "authenticated")}  # fmt: skip
    assert saved[("select", "anon")].conditions == ["published:eq:true"]
    assert saved[("update", "authenticated")].app_role == "editor"
    assert audit_count(AuditAction.ACCESS_RULE_SET) == 3
    page = client.get(url).content.decode()
    assert "end_user_id = auth user" in page
    assert "&#x27;editor&#x27; = ANY (auth user&#x27;s app roles)" in page
    assert "data satisfies strict" in page
    assert page.count("no rule: nobody") == 5
    # Saving the same form again changes nothing.
    client.post(url, form)
    assert audit_count(AuditAction.ACCESS_RULE_SET) == 3


def test_a_bad_rule_cell_saves_no_cell_and_says_why(client, user, project_a, todos):
    client.force_login(user)
    url = base(project_a) + f"rules/collection/{todos.id}/"
    form = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert", "update", "delete")
            for role in ("anon", "authenticated")}  # fmt: skip
    form.update(
        {
            "select-authenticated-kind": "owner",  # fine on its own
            "insert-anon-kind": "owner",  # anon owns nothing
            "update-authenticated-kind": "role",
            "update-authenticated-app_role": "Not A Role",
            "delete-authenticated-kind": "everyone",
            "delete-authenticated-conditions": "published:wat:1",
        }
    )
    response = client.post(url, form)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Anonymous callers own no rows" in body
    assert "A role name" in body and "Unknown operator" in body
    with tenant_context(PLATFORM):
        assert not rule_list(project=project_a).exists()
    form["select-anon-kind"] = "sometimes"
    assert client.post(url, form).status_code == 200
    other = base(project_a) + "rules/table/00000000-0000-0000-0000-000000000000/"
    assert client.get(other).status_code == 404


def test_bucket_rules_use_the_same_form(client, user, membership_a, project_a):
    as_member(membership_a)
    bucket = storage_services.bucket_create(membership=membership_a, project=project_a, name="pics")
    set_tenant_context(TenantContext())
    client.force_login(user)
    url = base(project_a) + f"rules/bucket/{bucket.id}/"
    assert url in client.get(base(project_a) + "rules/").content.decode()
    form = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert", "update", "delete")
            for role in ("anon", "authenticated")}  # fmt: skip
    form["select-authenticated-kind"] = "everyone"
    assert client.post(url, form).status_code == 303
    with tenant_context(PLATFORM):
        (rule,) = rule_list(project=project_a)
    assert (rule.resource_type, rule.resource_id, rule.kind) == ("bucket", bucket.id, "everyone")
    assert f"bucket_id = &#x27;{bucket.id}&#x27;" in client.get(url).content.decode()


def test_staff_outside_the_org_read_and_change_nothing(client, project_a, alice, todos):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    for url in pages(project_a, alice, todos):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'id="read-only"' in response.content.decode()
    assert client.post(base(project_a) + "keys/", {"kind": "secret"}).status_code == 403


def test_each_page_write_leaves_its_audit_row_with_the_request_id(
    client, user, project_a, alice, todos
):
    client.force_login(user)
    root = base(project_a)
    rules = {f"{op}-{role}-kind": "nobody" for op in ("select", "insert", "update", "delete")
             for role in ("anon", "authenticated")}  # fmt: skip
    rules["select-authenticated-kind"] = "owner"
    writes = [
        (root + "keys/", {"kind": "secret", "name": "server"}, "api_key_create"),
        (root + f"auth/users/{alice.id}/", {"action": "ban", "hours": "1"}, "end_user_ban"),
        (root + f"auth/users/{alice.id}/", {"action": "revoke_sessions"},
         "end_user_session_revoke"),
        (root + "auth/settings/", {"signup": "closed", "site_url": ""}, "auth_settings_update"),
        (root + f"rules/collection/{todos.id}/", rules, "access_rule_set"),
    ]  # fmt: skip
    for url, data, action in writes:
        request_id = f"studio-{action}"
        response = client.post(url, data, HTTP_X_REQUEST_ID=request_id)
        assert response.status_code in (200, 303), (url, response.status_code)
        with tenant_context(PLATFORM):
            actions = set(
                AuditEvent.objects.filter(request_id=request_id).values_list("action", flat=True)
            )
        assert action in actions, (url, actions)
