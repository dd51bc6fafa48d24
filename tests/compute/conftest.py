"""Webhook and job tests commit for real: deliveries run after the transaction has closed
(``outbound.client`` refuses to send inside one), exactly as in a worker. The shared ``user`` /
``org`` fixtures are redefined here on ``committed`` instead of a rolled-back ``db``."""

import pytest

from tenants import services
from tests.factories import UserFactory
from tests.servers import Receiver


@pytest.fixture
def user(committed):
    return UserFactory()


@pytest.fixture
def other_user(committed):
    return UserFactory()


@pytest.fixture
def org(user):
    return services.org_create(actor=user, name="Org A", slug="org-a")


@pytest.fixture
def other_org(other_user):
    return services.org_create(actor=other_user, name="Org B", slug="org-b")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
