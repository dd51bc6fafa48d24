"""Shared fixtures. The database and Redis are the real servers ``make test`` started.

Tests run on the ``default`` alias, which connects as the application role: row-level
security applies to them exactly as it does to requests.
"""

import os
import uuid

import mongomock
import pytest
from django.core.management import call_command
from django.db import connections
from rest_framework.test import APIClient

from datastore import documents
from tenants import services
from tests.factories import UserFactory


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """Use the database ``make test`` created, migrated here as the owner."""
    with django_db_blocker.unblock():
        call_command("migrate", database="owner", verbosity=0, interactive=False)
        _truncate_all()


def _truncate_all() -> None:
    """Empty every table (as the owner: the app role may not TRUNCATE)."""
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'django_migrations'"
        )
        tables = cursor.fetchone()[0]
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    call_command("migrate", database="owner", verbosity=0, interactive=False)


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """For tests whose work must really commit (threads, other processes, live servers).

    Everything is truncated afterwards through the owner connection.
    """
    with django_db_blocker.unblock():
        assert not connections["default"].in_atomic_block, "committed cannot be combined with db"
        try:
            yield
        finally:
            for connection in connections.all():
                connection.close()
            _truncate_all()


@pytest.fixture(autouse=True)
def _entity_copies():
    """Each test starts without the process's copies of rows (``cache.entities``): a test's
    rolled-back rows never reach a commit, where their changes would set a new epoch."""
    from cache import entities

    entities.clear_local()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def org(user):
    return services.org_create(actor=user, name="Org A", slug="org-a")


@pytest.fixture
def other_org(other_user):
    return services.org_create(actor=other_user, name="Org B", slug="org-b")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client with a bearer token of a real, live session of the given user."""
    from rest_framework_simplejwt.tokens import AccessToken

    from authn.services import sessions

    def make(user, **claims):
        pair = sessions.session_start(user=user)
        token = AccessToken(pair.access)
        for claim, value in claims.items():
            token[claim] = value
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.session_id = pair.session_id
        client.refresh_token = pair.refresh
        return client

    return make


@pytest.fixture
def document_store(settings):
    """The document store for one test: the MongoDB server at MONGODB_URL when set, else
    mongomock (the suite's one fake: no MongoDB server can run here), on a fresh database."""
    settings.MONGODB_DATABASE = f"platform_test_{uuid.uuid4().hex[:8]}"
    if os.environ.get("MONGODB_URL"):
        documents.set_client(None)
        client = documents.get_client()
    else:
        client = mongomock.MongoClient(tz_aware=True)
        documents.set_client(client)
    yield client
    client.drop_database(settings.MONGODB_DATABASE)
    documents.set_client(None)


def pytest_collection_modifyitems(config, items):
    """Files with slow tests first, those allowed the longest time (pytest-timeout) first of
    all: ``make test``'s workers take whole files as they free up (pytest-xdist loadfile), so
    the long files start early and the workers finish together. Order within a file is kept."""
    weight: dict = {}
    for item in items:
        if item.get_closest_marker("slow"):
            marker = item.get_closest_marker("timeout")
            allowed = marker.args[0] if marker and marker.args else 0
            weight[item.path] = max(weight.get(item.path, 1), 1 + allowed)
    items.sort(key=lambda item: -weight.get(item.path, 0))
