"""Unique names under row-level security: a taken name is a 400 that does not say whose, also
under concurrency, never a 500 from the INSERT.

A uniqueness check in Python cannot see the rows RLS hides (another org's slug) and races
with a concurrent insert; ``platform_site.errors.unique_violation_is_invalid`` maps the
database's answer instead. The last test lists every unique index on a tenant table, so a new
one has to be reviewed for the same hole.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.tokens import access_token


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
    return client


def body_without_request_id(response) -> dict:
    return {k: v for k, v in response.json()["error"].items() if k != "request_id"}


@pytest.mark.django_db
def test_another_orgs_slug_is_the_same_400_as_ones_own(user, other_user, client_for):
    mine, theirs = client_for(user), client_for(other_user)
    assert theirs.post("/api/v1/orgs/", {"name": "Acme", "slug": "acme"}, "json").status_code == 201
    assert mine.post("/api/v1/orgs/", {"name": "Mine", "slug": "mine"}, "json").status_code == 201

    foreign = mine.post("/api/v1/orgs/", {"name": "X", "slug": "acme"}, "json")
    own = mine.post("/api/v1/orgs/", {"name": "X", "slug": "mine"}, "json")
    assert foreign.status_code == own.status_code == 400
    assert body_without_request_id(foreign) == body_without_request_id(own)
    assert "slug" in foreign.json()["error"]["details"]

    renamed = mine.patch("/api/v1/orgs/mine/", {"slug": "acme"}, "json")
    assert renamed.status_code == 400, renamed.content
    assert body_without_request_id(renamed) == body_without_request_id(own)
    assert mine.patch("/api/v1/orgs/mine/", {"slug": "mine-2"}, "json").status_code == 200
    # The failed writes rolled back to their savepoint only: the org is intact.
    assert mine.get("/api/v1/orgs/mine-2/").json()["name"] == "Mine"


def run_concurrently(calls) -> list[int]:
    """Start every call at the same moment, each in its own thread (and connection)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call().status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(calls)) as pool:
        return sorted(pool.map(run, calls))


@pytest.mark.timeout(120)
def test_eight_concurrent_creates_of_one_free_slug(committed):
    clients = [bearer(UserFactory()) for _ in range(8)]
    statuses = run_concurrently(
        [
            lambda c=c: c.post("/api/v1/orgs/", {"name": "Race", "slug": "race"}, "json")
            for c in clients
        ]
    )
    assert statuses == [201] + [400] * 7


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", {"name": "web"}),  # a project of the org
        ("/{project}/collections/", {"name": "items"}),
        ("/{project}/buckets/", {"name": "docs"}),
        (
            "/{project}/jobs/",
            {"name": "nightly", "schedule": "0 3 * * *", "url": "http://127.0.0.1:9/hook"},
        ),
    ],
)
def test_concurrent_creates_of_one_name_inside_an_org(committed, path, body):
    owner = UserFactory()
    client = bearer(owner)
    assert client.post("/api/v1/orgs/", {"name": "Org", "slug": "org"}, "json").status_code == 201
    project = client.post("/api/v1/orgs/org/projects/", {"name": "app"}, "json").json()["id"]
    url = "/api/v1/orgs/org/projects" + path.format(project=project)
    clients = [bearer(owner) for _ in range(4)]
    statuses = run_concurrently([lambda c=c: c.post(url, body, "json") for c in clients])
    assert statuses == [201, 400, 400, 400]


# Every unique index on a table under RLS, and why a tenant cannot learn another's data or get
# a 500 from it. A new unique index fails this test until it is added here.
REVIEWED_UNIQUE_INDEXES = {
    "tenants_organization_slug_key": "org_create/org_update map the violation (tests above)",
    "membership_unique_org_user": "member_add maps the violation; accept locks the invitation",
    "project_unique_org_name": "project_create/project_update map the violation (test above)",
    "tenants_invitation_token_hash_key": "SHA-256 of a server-made 256-bit token",
    "collection_unique_project_name": "collection_create maps the violation (test above)",
    "bucket_unique_project_name": "bucket_create maps the violation (test above)",
    "object_unique_bucket_key": "object_put is update_or_create (get after a lost race)",
    "job_unique_project_name": "job_create/job_update map the violation (test above)",
    "job_unique_periodic_task": "the service makes one PeriodicTask per job",
    "alert_one_open_per_dedup_key": "raised by the platform's detectors, not by a request",
    "tenants_project_ref_8d0ae739_uniq": "a server-made random ref (26^20), never from a request",
    "tenants_projectkey_key_hash_key": "SHA-256 of a server-made 192-bit key",
    "accessrule_unique_resource": "rule_set is update_or_create (get after a lost race)",
    "accessrule_unique_channel": "rule_set is update_or_create (get after a lost race)",
    "enduser_unique_project_email": "end-user sign-up and creation map the violation",
    "function_unique_name": "function_deploy locks the function's row; a concurrent first "
    "deploy's violation is mapped to a 400",
    "version_unique_number": "numbered under the function's row lock",
    "version_unique_content": "the same content under that lock re-activates its version",
}


@pytest.mark.django_db(databases=["default", "owner"])
def test_every_unique_index_on_a_tenant_table_is_reviewed():
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = 'public' AND t.relrowsecurity AND x.indisunique
              AND NOT x.indisprimary
            """
        )
        found = {row[0] for row in cursor.fetchall()}
    assert found == set(REVIEWED_UNIQUE_INDEXES), found ^ set(REVIEWED_UNIQUE_INDEXES)


@pytest.mark.django_db
def test_renaming_a_job_to_a_taken_name_is_400(org, user, client_for):
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "app"}, "json").json()["id"]
    jobs = f"/api/v1/orgs/org-a/projects/{project}/jobs/"
    spec = {"schedule": "0 3 * * *", "url": "http://127.0.0.1:9/hook"}
    assert client.post(jobs, {"name": "a", **spec}, "json").status_code == 201
    second = client.post(jobs, {"name": "b", **spec}, "json").json()["id"]
    response = client.patch(f"{jobs}{second}/", {"name": "a"}, "json")
    assert response.status_code == 400, response.content
    assert "name" in response.json()["error"]["details"]
