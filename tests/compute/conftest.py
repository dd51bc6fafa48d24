"""Webhook and job tests commit for real: deliveries run after the transaction has closed
(``outbound.client`` refuses to send inside one), exactly as in a worker. The shared ``user``
fixtures are redefined here on ``committed`` instead of a rolled-back ``db``."""

import pytest

from tests.factories import UserFactory
from tests.servers import Receiver


# The shared org / other_org fixtures build on these, so they commit too.
@pytest.fixture
def user(committed):
    return UserFactory()


@pytest.fixture
def other_user(committed):
    return UserFactory()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
