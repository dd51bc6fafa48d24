"""Fixtures for outgoing HTTP: a resolver override (the one DNS lookup the client makes) and
a local receiver."""

import pytest

from outbound import destinations
from tests.servers import Receiver

# A public address (is_global) that no test ever connects to.
PUBLIC = "93.184.215.14"


class FakeDNS:
    """Names in ``answers`` resolve to the list given (or what a callable returns, per lookup);
    any other name goes to the system resolver. ``lookups`` records every name asked for."""

    def __init__(self, real):
        self.real = real
        self.answers: dict = {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.answers.get(host)
        if answer is None:
            return self.real(host, port)
        return list(answer() if callable(answer) else answer)


@pytest.fixture
def fake_dns(monkeypatch):
    dns = FakeDNS(destinations.resolve)
    monkeypatch.setattr(destinations, "resolve", dns)
    return dns


@pytest.fixture
def no_allowed_networks(settings):
    """Production's default: nothing but public addresses."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
