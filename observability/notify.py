"""Notification channels, in each service's own wire format.

* Slack incoming webhook: ``{"text": ..., "blocks": [...]}``.
* PagerDuty Events API v2: ``{"routing_key", "event_action": trigger|acknowledge|resolve,
  "dedup_key", "payload": {...}, "links": [...]}`` (the alert's dedup key, so acknowledge and
  resolve close the same incident).
* Generic webhook: JSON signed with HMAC-SHA256 over ``"<timestamp>.<body>"``, sent as
  ``X-Platform-Signature: v1=<hex>`` with ``X-Platform-Timestamp``.
* Email through Django's mail backend.

Every outgoing call carries ``X-Request-ID`` (the current one) and, when tracing is on, the
W3C ``traceparent``. The runbook link is in every message.
"""

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass

import httpx
import structlog
from django.conf import settings
from django.core.mail import send_mail

from observability.constants import ChannelKind
from observability.models import Alert, AlertChannel, AlertDelivery

logger = structlog.get_logger(__name__)

PAGERDUTY_ACTIONS = {
    "trigger": "trigger",
    "escalate": "trigger",
    "test": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}
PAGERDUTY_SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}
HEADLINE = {
    "trigger": "FIRING",
    "escalate": "ESCALATED",
    "acknowledge": "ACKNOWLEDGED",
    "resolve": "RESOLVED",
    "test": "TEST",
}


@dataclass
class Result:
    ok: bool
    status_code: int | None = None
    error: str = ""
    request_id: str = ""


def outgoing_headers() -> dict[str, str]:
    """Correlation headers for any outgoing HTTP call made on behalf of a request or task."""
    context = structlog.contextvars.get_contextvars()
    headers = {"X-Request-ID": str(context.get("request_id") or uuid.uuid4().hex)}
    from observability import tracing

    tracing.inject(headers)
    return headers


def _message(alert: Alert | None, action: str) -> dict:
    if alert is None:
        return {
            "title": "Test notification",
            "summary": "This channel receives the platform's alerts.",
            "severity": "info",
            "runbook_url": settings.ALERT_RUNBOOK_BASE_URL.rstrip("/") + "/alert-channels",
            "dedup_key": f"test:{uuid.uuid4().hex}",
            "kind": "test",
            "state": "test",
        }
    return {
        "title": alert.rule.name,
        "summary": alert.summary,
        "severity": alert.severity,
        "runbook_url": alert.rule.runbook_url,
        "dedup_key": alert.dedup_key,
        "kind": alert.rule.kind,
        "state": alert.state,
        "alert_id": str(alert.id),
        "org_id": str(alert.org_id) if alert.org_id else None,
        "started_at": alert.started_at.isoformat(),
        "escalation_level": alert.escalation_level,
    }


def slack_payload(message: dict, action: str) -> dict:
    line = f"*[{HEADLINE[action]}] {message['title']}* ({message['severity']})"
    return {
        "text": f"[{HEADLINE[action]}] {message['title']}: {message['summary']} "
        f"Runbook: {message['runbook_url']}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{line}\n{message['summary']}"},
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{message['runbook_url']}|Runbook>"},
                    {"type": "mrkdwn", "text": f"dedup key `{message['dedup_key']}`"},
                ],
            },
        ],
    }


def pagerduty_payload(message: dict, action: str, routing_key: str) -> dict:
    event_action = PAGERDUTY_ACTIONS[action]
    body: dict = {
        "routing_key": routing_key,
        "event_action": event_action,
        "dedup_key": message["dedup_key"],
    }
    if event_action == "trigger":
        body["payload"] = {
            "summary": f"{message['title']}: {message['summary']}"[:1024],
            "source": "platform",
            "severity": PAGERDUTY_SEVERITY[message["severity"]],
            "class": message["kind"],
            "custom_details": {k: v for k, v in message.items() if k not in ("title",)},
        }
        body["links"] = [{"href": message["runbook_url"], "text": "Runbook"}]
        body["client"] = "Platform"
    return body


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def send(channel: AlertChannel, *, action: str, alert: Alert | None = None) -> Result:
    message = _message(alert, action)
    headers = outgoing_headers()
    request_id = headers["X-Request-ID"]
    try:
        if channel.kind == ChannelKind.EMAIL:
            send_mail(
                f"[{HEADLINE[action]}] {message['title']}",
                f"{message['summary']}\n\nSeverity: {message['severity']}\n"
                f"Runbook: {message['runbook_url']}\nDedup key: {message['dedup_key']}\n",
                settings.ALERT_EMAIL_FROM,
                [channel.target],
            )
            return Result(True, None, "", request_id)
        if channel.kind == ChannelKind.SLACK:
            payload = slack_payload(message, action)
        elif channel.kind == ChannelKind.PAGERDUTY:
            payload = pagerduty_payload(message, action, channel.secret)
        else:
            payload = {"action": action, "alert": message}
        body = json.dumps(payload, sort_keys=True).encode()
        headers["Content-Type"] = "application/json"
        if channel.kind == ChannelKind.WEBHOOK and channel.secret:
            timestamp = str(int(time.time()))
            headers["X-Platform-Timestamp"] = timestamp
            headers["X-Platform-Signature"] = sign(channel.secret, timestamp, body)
        response = httpx.post(
            channel.target, content=body, headers=headers, timeout=settings.ALERT_HTTP_TIMEOUT
        )
        ok = response.status_code < 300
        result = Result(ok, response.status_code, "" if ok else response.text[:300], request_id)
    except (httpx.HTTPError, OSError) as exc:
        result = Result(False, None, f"{type(exc).__name__}: {exc}"[:300], request_id)
    log = logger.info if result.ok else logger.warning
    log(
        "alert_notification_sent",
        channel_id=str(channel.id),
        channel_kind=channel.kind,
        action=action,
        ok=result.ok,
        status_code=result.status_code,
    )
    return result


def record(
    channel: AlertChannel, result: Result, *, action: str, alert: Alert | None = None
) -> AlertDelivery:
    return AlertDelivery.objects.create(
        org_id=channel.org_id,
        alert=alert,
        channel=channel,
        action=action,
        ok=result.ok,
        status_code=result.status_code,
        error=result.error,
        request_id=result.request_id,
    )
