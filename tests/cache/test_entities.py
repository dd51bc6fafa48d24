"""Per-process copies (``cache.entities``): every change path takes effect on the next request,
on every instance, and without Redis nothing but PostgreSQL is believed.

"Another instance" is this process holding, after the change, the copies it read before it
(``another_instance``): they are tagged with the old epoch, as a second process's would be,
so only the shared epoch can keep them from being served.
"""

import socket
from contextlib import contextmanager

import pytest
from django.db.models.signals import post_delete, post_save
from rest_framework.test import APIClient

from access import services as access_services
from cache import entities
from cache import sessions as session_cache
from cache.breaker import redis_breaker
from compute import selectors as compute_selectors
from compute import services as compute_services
from datastore import services as data_services
from functions import selectors as functions_selectors
from tenants import services
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context
from tests.factories import UserFactory, owner_only_client_app

pytestmark = pytest.mark.django_db
CLIENT_URL = "/client/v1/collections/todos/records/"


@contextmanager
def another_instance():
    """The copies read so far stay held, as another process would hold them, through the
    change made in the block."""
    with entities._lock:
        held = dict(entities._copies)
    yield
    with entities._lock:
        entities._copies.update(held)


def as_owner(org, user):
    set_tenant_context(TenantContext(org_id=org.id, user_id=user.pk, role=Role.OWNER))
    return org.memberships.select_related("org", "user").get(user=user)


@pytest.fixture
def shop(org, user):
    owner = as_owner(org, user)
    project = services.project_create(membership=owner, name="shop")
    items = data_services.collection_create(membership=owner, project=project, name="items")
    set_tenant_context(TenantContext())
    return owner, project, items


def records_url(org, project, name="items"):
    return f"/api/v1/orgs/{org.slug}/projects/{project.id}/collections/{name}/records/"


@pytest.fixture
def member(org, shop, client_for):
    """A developer of the org, signed in, whose copies are all read."""
    owner, project, _ = shop
    person = UserFactory()
    as_owner(org, owner.user)
    membership = services.member_add(membership=owner, email=person.email, role=Role.DEVELOPER)
    set_tenant_context(TenantContext())
    client = client_for(person)
    url = records_url(org, project)
    assert client.post(url, {"data": {"n": 1}}, format="json").status_code == 201
    assert client.get(url).status_code == 200
    return client, membership, url


def test_a_copy_is_served_until_something_changes(member):
    client, _, url = member
    hits = entities.stats.hits
    assert client.get(url).status_code == 200
    assert entities.stats.hits >= hits + 3  # user, membership, collection


def test_a_deactivated_user_is_refused_at_once(member):
    client, membership, url = member
    with another_instance():
        user = membership.user
        user.is_active = False
        user.save(update_fields=["is_active"])  # sessions left alive: the user copy decides
    assert client.get(url).status_code == 401


def test_a_login_alone_leaves_the_copies_valid(member):
    client, membership, url = member
    epoch = entities.current_epoch()
    membership.user.save(update_fields=["last_login"])
    assert entities.current_epoch() == epoch


def test_a_role_change_takes_effect_at_once(org, user, member):
    client, membership, url = member
    with another_instance():
        services.member_change_role(
            membership=as_owner(org, user), target=membership, role=Role.VIEWER
        )
        set_tenant_context(TenantContext())
    assert client.post(url, {"data": {"n": 2}}, format="json").status_code == 403
    assert client.get(url).status_code == 200


def test_a_removed_member_is_refused_at_once(org, user, member):
    client, membership, url = member
    with another_instance():
        services.member_remove(membership=as_owner(org, user), target=membership)
        set_tenant_context(TenantContext())
    assert client.get(url).status_code == 404


def test_a_renamed_org_answers_under_its_new_slug_only(org, user, member, shop):
    client, _, url = member
    _, project, _ = shop
    with another_instance():
        services.org_update(membership=as_owner(org, user), slug="renamed")
        set_tenant_context(TenantContext())
    assert client.get(url).status_code == 404
    assert client.get(url.replace("/org-a/", "/renamed/")).status_code == 200


def test_a_deleted_project_is_gone_at_once(org, user, member, shop):
    client, _, url = member
    _, project, _ = shop
    with another_instance():
        services.project_delete(membership=as_owner(org, user), project=project)
        set_tenant_context(TenantContext())
    assert client.get(url).status_code == 404


def test_a_deleted_collection_is_gone_at_once(org, user, member, shop):
    client, _, url = member
    _, _, items = shop
    with another_instance():
        data_services.collection_delete(membership=as_owner(org, user), collection=items)
        set_tenant_context(TenantContext())
    assert client.get(url).status_code == 404


def test_a_schema_change_applies_to_the_next_write(org, user, member, shop):
    client, _, url = member
    _, _, items = shop
    schema = {"type": "object", "required": ["title"]}
    with another_instance():
        data_services.collection_update(
            membership=as_owner(org, user), collection=items, json_schema=schema
        )
        set_tenant_context(TenantContext())
    response = client.post(url, {"data": {"n": 3}}, format="json")
    assert response.status_code == 400, response.content


# --- client apps ------------------------------------------------------------------------------
@pytest.fixture
def app(org, user, shop):
    """A publishable key and an end user of the shop's project, ``todos`` owner-only; every
    copy a client request needs is read."""
    owner, project, _ = shop
    world = owner_only_client_app(owner, project)
    client = APIClient()
    client.credentials(HTTP_APIKEY=world.raw_key, HTTP_AUTHORIZATION=f"Bearer {world.token}")
    assert client.post(CLIENT_URL, {"data": {"n": 1}}, format="json").status_code == 201
    assert client.get(CLIENT_URL).status_code == 200
    return client, world.key, world.collection, project


def test_a_revoked_key_is_refused_on_the_next_request(org, user, app):
    client, key_row, _, _ = app
    with another_instance():
        services.api_key_revoke(membership=as_owner(org, user), key=key_row)
        set_tenant_context(TenantContext())
    response = client.get(CLIENT_URL)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_a_rotated_key_is_refused_and_its_successor_served(org, user, app):
    client, key_row, _, _ = app
    with another_instance():
        _, new_key = services.api_key_rotate(membership=as_owner(org, user), key=key_row)
        set_tenant_context(TenantContext())
    assert client.get(CLIENT_URL).status_code == 401
    client.credentials(HTTP_APIKEY=new_key, HTTP_AUTHORIZATION=client._credentials.get(
        "HTTP_AUTHORIZATION"
    ))  # fmt: skip
    assert client.get(CLIENT_URL).status_code == 200


def test_a_rule_change_applies_to_the_next_request(org, user, app):
    client, _, todos, project = app
    with another_instance():
        access_services.rule_set(
            membership=as_owner(org, user),
            project=project,
            resource_type="collection",
            resource_id=todos.id,
            operation="select",
            client_role="authenticated",
            kind="nobody",
        )
        set_tenant_context(TenantContext())
    assert client.get(CLIENT_URL).json()["results"] == []


def test_a_new_webhook_is_seen_by_the_next_write(org, user, shop):
    owner, project, _ = shop
    assert not compute_selectors.project_has_webhooks(org_id=org.id, project_id=project.id)
    with another_instance():
        as_owner(org, user)
        compute_services.webhook_create(
            membership=owner, project=project, url="http://127.0.0.1:9/hook", events=["insert"]
        )
        set_tenant_context(TenantContext())
    assert compute_selectors.project_has_webhooks(org_id=org.id, project_id=project.id)


@pytest.mark.parametrize(
    "label",
    [
        "auth.User",
        "tenants.Organization",
        "tenants.Membership",
        "tenants.Project",
        "tenants.ProjectKey",
        "datastore.Collection",
        "access.AccessRule",
        "compute.Webhook",
        "functions.Function",
    ],
)
def test_every_watched_model_sets_a_new_epoch_on_save_and_delete(label):
    from django.apps import apps
    from django.dispatch.dispatcher import _make_id

    model = apps.get_model(label)
    for signal, what in ((post_save, "save"), (post_delete, "delete")):
        connected = {receiver[0] for receiver in signal.receivers}
        assert (f"cache.entities.{label}.{what}", _make_id(model)) in connected


def test_a_function_change_is_seen_by_the_next_write(org, shop):
    _, project, _ = shop
    assert not functions_selectors.project_has_record_functions(
        org_id=org.id, project_id=project.id
    )
    entities.replace(("record_functions", str(project.id)), lambda value: True)
    assert functions_selectors.project_has_record_functions(org_id=org.id, project_id=project.id)
    with another_instance():
        entities.invalidate()  # what a Function's save or delete does (checked above)
    assert not functions_selectors.project_has_record_functions(
        org_id=org.id, project_id=project.id
    )


# --- Redis unavailable ------------------------------------------------------------------------
@pytest.fixture
def redis_down(settings):
    """The session cache (and the epoch with it) pointed at a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caches = dict(settings.CACHES)
    caches["dead"] = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    settings.CACHES = caches
    settings.LATENCY_SAMPLE_RATE = 0.0

    def down():
        settings.AUTHN_SESSION_CACHE_ALIAS = "dead"

    def up():
        settings.AUTHN_SESSION_CACHE_ALIAS = "default"
        redis_breaker.close()

    yield down, up
    settings.AUTHN_SESSION_CACHE_ALIAS = "default"
    redis_breaker.close()
    session_cache.reconciled()


def test_a_key_revoked_while_redis_is_down_is_refused_then_and_after(org, user, app, redis_down):
    client, key_row, _, _ = app
    down, up = redis_down
    with another_instance():
        down()
        services.api_key_revoke(membership=as_owner(org, user), key=key_row)
        set_tenant_context(TenantContext())
        bypassed = entities.stats.bypassed
        assert client.get(CLIENT_URL).status_code == 401  # PostgreSQL, not the copy
        assert entities.stats.bypassed > bypassed
    up()  # the copies read before the outage are still held, under the old epoch
    assert client.get(CLIENT_URL).status_code == 401


def test_without_redis_every_request_reads_postgresql(member, redis_down):
    client, membership, url = member
    down, up = redis_down
    down()
    hits = entities.stats.hits
    assert client.get(url).status_code == 200
    assert entities.stats.hits == hits
    with another_instance():
        membership.user.is_active = False
        membership.user.save(update_fields=["is_active"])
    assert client.get(url).status_code == 401
