"""Notification channels, in each service's own wire format.

* Slack incoming webhook: ``{"text": ..., "blocks": [...]}``.
* PagerDuty Events API v2: ``{"routing_key", "event_action": trigger|acknowledge|resolve,
  "dedup_key", "payload": {...}, "links": [...]}`` (the alert's dedup key, so acknowledge and
  resolve close the same incident).
* Generic webhook: JSON signed with HMAC-SHA256 over ``"<timestamp>.<body>"``, sent as
  ``X-Platform-Signature: v1=<hex>`` with ``X-Platform-Timestamp``.
* Email through Django's mail backend.

HTTP channels go through ``outbound.client.post`` (destination checked, signed, correlation
headers, no redirects), which refuses to run inside a transaction: ``send`` is called after the
caller's transaction has closed, ``record`` in a new one. The runbook link is in every message.
"""

import uuid
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.mail import send_mail

from observability.constants import ChannelKind
from observability.models import Alert, AlertChannel, AlertDelivery
from outbound import client

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


def send(channel: AlertChannel, *, action: str, alert: Alert | None = None) -> Result:
    """Notify one channel. No database access: the channel and alert are already loaded."""
    message = _message(alert, action)
    request_id = client.current_request_id()
    if channel.kind == ChannelKind.EMAIL:
        try:
            send_mail(
                f"[{HEADLINE[action]}] {message['title']}",
                f"{message['summary']}\n\nSeverity: {message['severity']}\n"
                f"Runbook: {message['runbook_url']}\nDedup key: {message['dedup_key']}\n",
                settings.ALERT_EMAIL_FROM,
                [channel.target],
            )
            result = Result(True, None, "", request_id)
        except OSError as exc:  # smtplib's errors included; the text is for the operator only
            logger.warning("alert_email_failed", channel_id=str(channel.id), error=str(exc)[:200])
            result = Result(False, None, "refused", request_id)
    else:
        if channel.kind == ChannelKind.SLACK:
            payload = slack_payload(message, action)
        elif channel.kind == ChannelKind.PAGERDUTY:
            payload = pagerduty_payload(message, action, channel.secret)
        else:
            payload = {"action": action, "alert": message}
        # Only the generic webhook is signed: PagerDuty's secret is its routing key.
        secret = channel.secret if channel.kind == ChannelKind.WEBHOOK else ""
        outcome = client.post(
            channel.target,
            payload,
            secret=secret,
            headers={"X-Request-ID": request_id},
            timeout=settings.ALERT_HTTP_TIMEOUT,
        )
        result = Result(outcome.ok, outcome.status, outcome.summary, request_id)
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
