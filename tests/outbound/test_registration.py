"""Every field that takes a URL the platform will call refuses every address class when it is
registered: 400 in the one error shape, naming the field. A new address class belongs in
REFUSED; every model field of every installed app that looks like a destination (a URLField,
or named url, target, endpoint, webhook...) must be in COVERED (with its cases in FIELDS) or in
NOT_CALLED with the reason, else ``test_every_destination_field_is_covered`` fails."""

import itertools

import pytest
from django.apps import apps
from django.db import models
from django.forms import modelform_factory

from compute.admin import DestinationForm
from compute.models import ScheduledJob, Webhook
from observability.admin import AlertChannelForm
from observability.models import AlertChannel
from tests.outbound.conftest import PUBLIC

pytestmark = pytest.mark.django_db

REFUSED = {
    "loopback": "http://127.0.0.1:8000/",
    "localhost": "http://localhost:8000/metrics",
    "IPv6 loopback": "http://[::1]/",
    "unspecified": "http://0.0.0.0/",
    "private 10/8": "http://10.0.0.1/hook",
    "private 172.16/12": "http://172.16.0.1/hook",
    "private 192.168/16": "http://192.168.0.10/hook",
    "shared address space": "http://100.64.0.1/hook",
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "cloud metadata by name": "http://metadata.google.internal/computeMetadata/v1/",
    "IPv4-mapped IPv6 loopback": "http://[::ffff:127.0.0.1]/",
    "IPv6 link-local": "http://[fe80::1]/",
    "IPv6 unique local": "http://[fd12:3456::1]/",
    "multicast": "http://224.0.0.1/",
    "reserved": "http://240.0.0.1/",
    "a name resolving to a private address": "https://intranet.example.com/hook",
    "credentials in the URL": "https://user:pass@hooks.example.com/hook",
    "ftp": "ftp://hooks.example.com/hook",
}
GOOD = "https://hooks.example.com/hook"


def webhook_create(client, project, url):
    return client.post(f"{project}/webhooks/", {"url": url, "events": ["insert"]}, format="json")


def webhook_update(client, project, url):
    hook = webhook_create(client, project, GOOD)
    assert hook.status_code == 201, hook.content
    return client.patch(f"{project}/webhooks/{hook.json()['id']}/", {"url": url}, format="json")


_jobs = itertools.count()


def job_create(client, project, url):
    body = {"name": f"job-{next(_jobs)}", "schedule": "0 * * * *", "url": url}
    return client.post(f"{project}/jobs/", body, format="json")


def job_update(client, project, url):
    job = job_create(client, project, GOOD)
    assert job.status_code == 201, job.content
    return client.patch(f"{project}/jobs/{job.json()['id']}/", {"url": url}, format="json")


def channel_create(kind):
    def create(client, project, url):
        body = {"name": "ops", "kind": kind, "target": url, "secret": "ROUTING-OR-SIGNING"}
        return client.post("/api/v1/orgs/org-a/alert-channels", body, format="json")

    return create


FIELDS = {
    "webhook url (create)": (webhook_create, "url"),
    "webhook url (update)": (webhook_update, "url"),
    "job url (create)": (job_create, "url"),
    "job url (update)": (job_update, "url"),
    "slack channel target": (channel_create("slack"), "target"),
    "webhook channel target": (channel_create("webhook"), "target"),
    "pagerduty channel target": (channel_create("pagerduty"), "target"),
}


# Each model field the platform sends requests to, and the FIELDS cases that register it.
COVERED = {
    ("compute.Webhook", "url"): ["webhook url (create)", "webhook url (update)"],
    ("compute.ScheduledJob", "url"): ["job url (create)", "job url (update)"],
    ("observability.AlertChannel", "target"): [
        "slack channel target",
        "webhook channel target",
        "pagerduty channel target",
    ],
}
NOT_CALLED = {
    ("observability.AlertRule", "runbook_url"): "a link put in alert messages for people to open",
    ("endusers.ProjectAuthSettings", "site_url"): "a link in end users' emails for people to open",
    ("compute.ScheduledJob", "target"): "the kind of target (url or function), not an address",
}
DESTINATION_NAMES = {"url", "uri", "target", "endpoint", "callback", "destination"}


def destination_fields():
    """(model label, field name) of every concrete, non-relation field that may hold a URL."""
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not getattr(field, "concrete", False) or field.is_relation:
                continue
            name = field.name.lower()
            if (
                isinstance(field, models.URLField)
                or name in DESTINATION_NAMES
                or name.startswith("webhook")
                or name.endswith(("_url", "_uri", "_endpoint"))
            ):
                yield model._meta.label, field.name


def test_every_destination_field_is_covered():
    found = set(destination_fields())
    assert found, "the walk found no field at all"
    unlisted = found - set(COVERED) - set(NOT_CALLED)
    assert not unlisted, f"add these to COVERED (with FIELDS cases) or NOT_CALLED: {unlisted}"
    assert set(COVERED) | set(NOT_CALLED) <= found, "a listed field no longer exists"
    assert sorted(case for cases in COVERED.values() for case in cases) == sorted(FIELDS)


@pytest.fixture
def project(user, org, client_for) -> str:
    created = client_for(user).post("/api/v1/orgs/org-a/projects/", {"name": "p"}, "json")
    return f"/api/v1/orgs/org-a/projects/{created.json()['id']}"


@pytest.fixture
def dns(fake_dns, no_allowed_networks):
    fake_dns.answers.update(
        {
            "hooks.example.com": [PUBLIC],
            "intranet.example.com": ["10.20.30.40"],
            "metadata.google.internal": ["169.254.169.254"],
        }
    )
    return fake_dns


@pytest.mark.parametrize("field", FIELDS.values(), ids=FIELDS.keys())
def test_every_url_field_refuses_every_address_class(field, user, project, client_for, dns):
    register, name = field
    client = client_for(user)
    for label, url in REFUSED.items():
        response = register(client, project, url)
        assert response.status_code == 400, (label, response.status_code, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["status"] == 400, label
        assert set(error["details"]) == {name}, (label, error)


@pytest.mark.parametrize("field", FIELDS.values(), ids=FIELDS.keys())
def test_every_url_field_accepts_a_public_destination(field, user, project, client_for, dns):
    register, _ = field
    response = register(client_for(user), project, GOOD)
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("form", "model", "fields"),
    [
        (DestinationForm, Webhook, {}),
        (DestinationForm, ScheduledJob, {}),
        (AlertChannelForm, AlertChannel, {"kind": "slack"}),
    ],
    ids=["webhook", "job", "alert channel"],
)
def test_studio_edits_pass_the_same_check(form, model, fields, dns):
    name = "target" if model is AlertChannel else "url"
    bound = modelform_factory(model, form=form, fields=[name, *fields])
    for label, url in REFUSED.items():
        edited = bound(data={name: url, **fields})
        assert not edited.is_valid() and name in edited.errors, label
    assert bound(data={name: GOOD, **fields}).is_valid()
