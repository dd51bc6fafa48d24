"""Structured logs: correlation ids through request, task and outgoing webhook; masking."""

import hashlib
import hmac
import logging.handlers

import pytest

from observability.redaction import mask_secrets
from platform_site.settings.logging import build_logging
from tenants import services as tenant_services
from tests.factories import UserFactory
from tests.observability.conftest import wait_until
from tests.observability.logscan import find_secrets


@pytest.mark.slow
def test_request_id_reaches_every_log_line_the_task_and_the_webhook(
    committed, celery_worker, receiver, json_logs, client_for
):
    user = UserFactory()
    org = tenant_services.org_create(actor=user, name="Org A", slug="org-a")
    client = client_for(user)
    json_logs.clear()  # the set-up's own lines (the org's audit event) belong to no request
    created = client.post(
        "/api/v1/orgs/org-a/alert-channels",
        {"name": "ops hook", "kind": "webhook", "target": receiver.url + "/hook", "secret": "k1"},
        format="json",
        HTTP_X_REQUEST_ID="abc-123",
    )
    assert created.status_code == 201, created.content
    assert created["X-Request-ID"] == "abc-123"
    assert "secret" not in created.json()

    queued = client.post(
        f"/api/v1/orgs/org-a/alert-channels/{created.json()['id']}/test",
        HTTP_X_REQUEST_ID="abc-123",
    )
    assert queued.status_code == 202, queued.content
    assert queued["X-Request-ID"] == "abc-123"

    # The request's own log lines: every one carries the id, the org and the user.
    assert len(json_logs) >= 4
    for line in json_logs:
        assert line.get("request_id") == "abc-123", line
        assert line.get("org_id") == str(org.id), line
        assert line.get("user_id") == user.pk, line
    events = {line["event"] for line in json_logs}
    assert {"alert_channel_test_requested", "api_request", "request_finished"} <= events
    finished = [line for line in json_logs if line["event"] == "request_finished"]
    assert all(
        line["status"] in (201, 202) and line["duration_ms"] >= 0 and line["route"]
        for line in finished
    )

    # The task, in a real worker process, logs under the same id ...
    delivered = wait_until(
        lambda: [
            line
            for line in celery_worker.lines()
            if line.get("event") == "alert_channel_test_delivered"
        ],
        timeout=60,
    )
    assert delivered[0]["request_id"] == "abc-123"
    task_lines = [
        line for line in celery_worker.lines() if line.get("task_id") == delivered[0]["task_id"]
    ]
    assert task_lines and all(line["request_id"] == "abc-123" for line in task_lines)
    assert find_secrets(celery_worker.text()) == []

    # ... and the outgoing webhook carries it too, signed.
    (call,) = receiver.to("/hook")
    assert call["headers"]["X-Request-ID"] == "abc-123"
    timestamp = call["headers"]["X-Platform-Timestamp"]
    expected = hmac.new(b"k1", f"{timestamp}.".encode() + call["raw"], hashlib.sha256)
    assert call["headers"]["X-Platform-Signature"] == "v1=" + expected.hexdigest()
    assert call["json"]["action"] == "test"


@pytest.mark.django_db
def test_malformed_request_id_is_replaced_not_reflected(client_for, user, org, json_logs):
    bad = "abc 123<script>alert(1)</script>"
    response = client_for(user).get("/api/v1/orgs/org-a/alerts", HTTP_X_REQUEST_ID=bad)
    assert response.status_code == 200
    replaced = response["X-Request-ID"]
    assert replaced != bad and "<" not in replaced
    assert json_logs and all(line["request_id"] == replaced for line in json_logs)
    assert all("<script>" not in str(line) for line in json_logs)
    too_long = client_for(user).get("/health/live", HTTP_X_REQUEST_ID="a" * 200)
    assert too_long["X-Request-ID"] != "a" * 200


def test_every_response_names_the_instance_that_answered(client, settings):
    settings.PLATFORM_INSTANCE = "app3"
    assert client.get("/health/live")["X-Platform-Instance"] == "app3"
    assert client.get("/api/v1/no-such-route")["X-Platform-Instance"] == "app3"


@pytest.mark.django_db
def test_secrets_are_masked_in_access_log_and_bodies(json_logs, client_for, user, org, settings):
    settings.LOG_HTTP_BODIES = True
    client = client_for(user)
    client.cookies["sessionid"] = "cookie-value-that-is-secret"
    response = client.post(
        "/api/v1/orgs/org-a/alert-channels",
        {
            "name": "pd",
            "kind": "pagerduty",
            "target": "http://127.0.0.1:9/v2/enqueue",
            "secret": "routing-key-value",
            "password": "hunter2-password",
            "refresh": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        },
        format="json",
    )
    assert response.status_code == 201
    (access,) = [line for line in json_logs if line["event"] == "api_request"]
    assert access["headers"]["authorization"] == "[masked]"
    assert access["headers"]["cookie"] == "[masked]"
    assert access["request_body"]["password"] == "[masked]"
    assert access["request_body"]["secret"] == "[masked]"
    assert access["request_body"]["name"] == "pd"  # bodies are logged when asked for
    text = str(json_logs)
    for secret in ("hunter2", "routing-key-value", "cookie-value", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in text
    assert find_secrets(text) == []


def test_bodies_are_off_by_default(settings):
    assert settings.LOG_HTTP_BODIES is False


def test_scanner_and_masker_catch_what_they_must():
    leaky = '{"event": "x", "password": "hunter2"} Bearer eyJhbGciOiJI.eyJzdWIiOjF9.sig'
    assert len(find_secrets(leaky)) == 2
    assert find_secrets("refresh=abcdefabcdef1234567890") == ["refresh value"]
    assert find_secrets('{"password": "[masked]", "refresh": null}') == []
    event = mask_secrets(
        None,
        "info",
        {
            "event": "login failed: password=hunter2",
            "token": "abc",
            "nested": {"Authorization": "Bearer x", "ok": 1},
            "note": "got eyJhbGciOiJI.eyJzdWIiOjF9.c2ln from client",
        },
    )
    assert "hunter2" not in event["event"]
    assert event["token"] == "[masked]"
    assert event["nested"] == {"Authorization": "[masked]", "ok": 1}
    assert "eyJ" not in event["note"]


def test_log_file_rotates_by_size_with_retention(tmp_path):
    path = tmp_path / "platform.log"
    config = build_logging(json=True, level="INFO", log_file=str(path), max_bytes=300, retention=2)
    spec = config["handlers"]["file"]
    assert spec["class"] == "logging.handlers.RotatingFileHandler"
    handler = logging.handlers.RotatingFileHandler(
        spec["filename"], maxBytes=spec["maxBytes"], backupCount=spec["backupCount"]
    )
    logger = logging.getLogger("rotation-test")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(100):
            logger.warning("line %s %s", n, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["platform.log", "platform.log.1", "platform.log.2"]
    timed = build_logging(json=True, level="INFO", log_file=str(path), retention=7)
    assert timed["handlers"]["file"]["class"] == "logging.handlers.TimedRotatingFileHandler"
    assert timed["handlers"]["file"]["backupCount"] == 7


def test_websocket_consumers_bind_the_handshake_request_id(json_logs):
    import structlog

    from observability.context import bind_websocket_context

    class Org:
        id = "7d3c0c7e-0000-4000-8000-000000000001"

    scope = {"headers": [(b"x-request-id", b"ws-abc-1")], "path": "/ws/records", "org": Org()}
    structlog.contextvars.clear_contextvars()
    try:
        assert bind_websocket_context(scope) == "ws-abc-1"
        structlog.get_logger("consumer").info("frame_received")
        bad = {"headers": [(b"x-request-id", b"<bad id>")], "path": "/ws/records"}
        assert bind_websocket_context(bad) != "<bad id>"
    finally:
        structlog.contextvars.clear_contextvars()
    (line,) = [x for x in json_logs if x["event"] == "frame_received"]
    assert (line["request_id"], line["org_id"]) == ("ws-abc-1", Org.id)
    assert scope["request_id"] == "ws-abc-1"


def test_an_event_below_its_loggers_level_stops_before_any_processor():
    """Level filtering comes first: a dropped event costs no context merge, timestamp or
    masking. The stdlib logger's level decides, so per-logger levels keep working."""
    import structlog

    processors = structlog.get_config()["processors"]
    seen = []

    def spy(logger, method_name, event_dict):
        seen.append(event_dict["event"])
        return event_dict

    structlog.configure(processors=[processors[0], spy, *processors[1:]])
    stdlib_logger = logging.getLogger("tests.level_filter")
    try:
        stdlib_logger.setLevel(logging.INFO)
        log = structlog.get_logger("tests.level_filter")
        log.debug("dropped")
        log.info("kept")
        stdlib_logger.setLevel(logging.DEBUG)
        log.debug("kept at debug")
    finally:
        structlog.configure(processors=processors)
        stdlib_logger.setLevel(logging.NOTSET)
    assert seen == ["kept", "kept at debug"]
