"""The one outgoing client against a local receiver: signed, correlated, connected to the
address it checked, no redirects, no proxies, timeouts, and outcomes that say no more than
delivered / refused / timed out / HTTP status."""

import hashlib
import hmac

import pytest
import structlog
from django.db import transaction

from outbound import client
from tests.observability.conftest import json_logs  # noqa: F401 (fixture)
from tests.servers import free_port


def test_a_signed_post_carries_the_request_id_and_verifies(receiver):
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        outcome = client.post(receiver.url + "/in", {"b": 1, "a": [2]}, secret="s3", timeout=5)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    assert (outcome.ok, outcome.result, outcome.status, outcome.summary) == (
        True, "delivered", 200, "",
    )  # fmt: skip
    (sent,) = receiver.to("/in")
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-request-id"] == "req-42"
    assert headers["content-type"] == "application/json"
    expected = hmac.new(
        b"s3", f"{headers['x-platform-timestamp']}.".encode() + sent["raw"], hashlib.sha256
    ).hexdigest()
    assert headers["x-platform-signature"] == "v1=" + expected
    assert sent["json"] == {"a": [2], "b": 1}


def test_unsigned_without_a_secret(receiver):
    assert client.post(receiver.url + "/plain", {}, timeout=5).ok
    (sent,) = receiver.to("/plain")
    assert "X-Platform-Signature" not in sent["headers"]


def test_the_checked_address_is_the_one_connected_to(receiver, fake_dns):
    # The first answer is the receiver; any later lookup would point somewhere unreachable.
    answers = iter([["127.0.0.1"]])
    fake_dns.answers["hooks.example.test"] = lambda: next(answers, ["10.255.0.1"])
    port = receiver.server.server_port
    outcome = client.post(f"http://hooks.example.test:{port}/pinned", {}, timeout=5)
    assert outcome.ok, outcome
    assert fake_dns.lookups == ["hooks.example.test"]  # one resolution, then that address
    (sent,) = receiver.to("/pinned")
    assert sent["headers"]["Host"] == f"hooks.example.test:{port}"


def test_redirects_are_not_followed(receiver):
    receiver.status = 302
    receiver.headers = {"Location": receiver.url + "/elsewhere"}
    outcome = client.post(receiver.url + "/moved", {}, timeout=5)
    assert (outcome.ok, outcome.result, outcome.status, outcome.summary) == (
        False, "http_status", 302, "HTTP 302",
    )  # fmt: skip
    assert receiver.to("/elsewhere") == []


def test_proxy_variables_are_ignored(receiver, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    assert client.post(receiver.url + "/direct", {}, timeout=5).ok
    assert len(receiver.to("/direct")) == 1


def test_a_receiver_slower_than_the_timeout_is_timed_out(receiver):
    receiver.delay = 5.0
    try:
        outcome = client.post(receiver.url + "/slow", {}, timeout=0.3)
    finally:
        receiver.release.set()
    assert (outcome.result, outcome.status, outcome.summary) == ("timed_out", None, "timed out")


def test_connection_errors_tell_the_tenant_nothing_but_refused():
    outcome = client.post(f"http://127.0.0.1:{free_port()}/closed", {}, timeout=5)
    assert (outcome.result, outcome.status, outcome.summary) == ("refused", None, "refused")


def test_a_refused_destination_is_never_connected_to(receiver, no_allowed_networks):
    outcome = client.post(receiver.url + "/loopback", {}, timeout=5)
    assert (outcome.result, outcome.summary) == ("refused", "refused")
    assert receiver.requests == []


def test_the_log_names_the_host_not_the_path(receiver, json_logs):  # noqa: F811
    # Slack's incoming webhook URLs carry their secret in the path.
    assert client.post(receiver.url + "/services/T0/B0/XSECRETX", {}, timeout=5).ok
    lines = [line for line in json_logs if line.get("event") == "outbound_request"]
    assert lines and lines[0]["host"] == "127.0.0.1" and lines[0]["result"] == "delivered"
    assert json_logs and all("XSECRETX" not in str(line) for line in json_logs)


@pytest.mark.django_db(transaction=False)
def test_it_refuses_to_run_inside_a_transaction(receiver):
    with transaction.atomic(), pytest.raises(client.OpenTransaction):
        client.post(receiver.url + "/in-tx", {}, timeout=5)
    assert receiver.requests == []
