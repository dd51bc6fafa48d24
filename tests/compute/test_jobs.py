"""Scheduled jobs: a cron schedule in django-celery-beat, a signed POST per run, runs recorded,
bad schedules refused, and the schedule follows the job (disable, delete); a disabled job is
not run on request either (409)."""

import hashlib
import hmac
import json

import pytest
from django_celery_beat.models import PeriodicTask

from cache.client import get_redis
from compute.models import JobRun
from compute.tasks import run_scheduled_job
from tenants.context import TenantContext, tenant_context


@pytest.fixture
def jobs_url(org, user, client_for):
    project = client_for(user).post("/api/v1/orgs/org-a/projects/", {"name": "app"}, "json").json()
    return f"/api/v1/orgs/org-a/projects/{project['id']}/jobs/"


def test_a_job_is_scheduled_in_beat_and_each_run_is_a_signed_post(
    org, user, client_for, jobs_url, receiver
):
    client = client_for(user)
    created = client.post(
        jobs_url,
        {"name": "digest", "schedule": "*/15 9-17 * * 1-5", "url": receiver.url + "/job",
         "payload": {"kind": "digest"}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    job = created.json()
    task = PeriodicTask.objects.get(name=f"job:{job['id']}")
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == (
        "*/15", "9-17", "1-5",
    )  # fmt: skip
    args = json.loads(task.args)
    assert args == [job["id"], str(org.id), jobs_url.split("/")[6]] and task.enabled

    # What beat does on schedule: the task, with the ids it was given.
    assert run_scheduled_job.apply(args=json.loads(task.args)).get() is True
    (sent,) = receiver.to("/job")
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    expected = hmac.new(
        job["secret"].encode(),
        f"{headers['x-platform-timestamp']}.".encode() + sent["raw"],
        hashlib.sha256,
    ).hexdigest()
    assert headers["x-platform-signature"] == "v1=" + expected
    assert sent["json"]["payload"] == {"kind": "digest"} and sent["json"]["type"] == "scheduled"
    runs = client.get(f"{jobs_url}{job['id']}/runs/").json()
    assert [r["succeeded"] for r in runs] == [True]


def test_failed_runs_are_recorded(org, user, client_for, jobs_url, receiver):
    receiver.status = 503
    job = (
        client_for(user)
        .post(jobs_url, {"name": "x", "schedule": "0 * * * *", "url": receiver.url + "/x"}, "json")
        .json()
    )
    assert run_scheduled_job.apply(args=[job["id"], str(org.id)]).get() is False
    with tenant_context(TenantContext(org_id=org.id)):
        run = JobRun.objects.get()
    assert (run.succeeded, run.response_status, run.error) == (False, 503, "HTTP 503")


def test_bad_schedules_are_400(user, client_for, jobs_url):
    client = client_for(user)
    for schedule in ("every day", "61 * * * *", "* * * *", "0 25 * * *"):
        response = client.post(
            jobs_url, {"name": "bad", "schedule": schedule, "url": "https://x.test"}, "json"
        )
        assert response.status_code == 400, schedule
        assert "schedule" in response.json()["error"]["details"]


def test_disable_delete_and_run_now_follow_the_job(org, user, client_for, jobs_url):
    client = client_for(user)
    job = client.post(
        jobs_url, {"name": "n", "schedule": "0 3 * * *", "url": "http://127.0.0.1:9/n"}, "json"
    ).json()
    redis = get_redis()
    before = redis.llen("celery")
    response = client.post(f"{jobs_url}{job['id']}/runs/")
    assert response.status_code == 202
    assert redis.llen("celery") == before + 1  # "run now" queued one task on the real broker

    assert client.patch(f"{jobs_url}{job['id']}/", {"enabled": False}, "json").status_code == 200
    assert not PeriodicTask.objects.get(name=f"job:{job['id']}").enabled
    assert run_scheduled_job.apply(args=[job["id"], str(org.id)]).get() is None  # disabled

    # "Run now" on a disabled job is refused in the error shape, and nothing is queued.
    refused = client.post(f"{jobs_url}{job['id']}/runs/")
    assert refused.status_code == 409, refused.content
    assert refused.json()["error"]["code"] == "job_disabled"
    assert redis.llen("celery") == before + 1

    assert client.delete(f"{jobs_url}{job['id']}/").status_code == 204
    assert not PeriodicTask.objects.filter(name=f"job:{job['id']}").exists()
