"""20 concurrent clients alternating between two orgs, against a real server over the pool.

A uvicorn process serves the committed data; 20 threads send 2,000 requests in all, each
client switching org on every request. Every row of every response must belong to the org
the request named: one foreign row is a failure.
"""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.datastore.live import live_server, seed_org

pytestmark = pytest.mark.slow

CLIENTS = 20
REQUESTS = 2000


@pytest.fixture
def server():
    # Fewer pooled connections than clients: requests queue for the pool and reuse connections.
    with live_server(
        DATABASE_POOL_MIN_SIZE="2",
        DATABASE_POOL_MAX_SIZE="8",
        METRICS_ALLOWED_NETWORKS="127.0.0.1/32",
    ) as base:
        yield base


def test_no_foreign_row_under_concurrency(django_db_setup, committed, server):
    orgs = [seed_org("conc-a"), seed_org("conc-b")]

    def client_run(index: int) -> list[str]:
        problems = []
        with httpx.Client(base_url=server, timeout=30) as client:
            for step in range(REQUESTS // CLIENTS):
                me = orgs[(index + step) % 2]
                other = orgs[(index + step + 1) % 2]
                headers = {"Authorization": f"Bearer {me['token']}"}
                if step % 3 == 2:
                    record_id = sorted(other["ids"])[step % 30]
                    response = client.get(f"{me['url']}{record_id}/", headers=headers)
                    if response.status_code != 404:
                        problems.append(f"foreign id answered {response.status_code}")
                    continue
                params = {"limit": "50", "count": "true"}
                if step % 3 == 1:
                    params["filter"] = "n:gte:10"
                response = client.get(me["url"], params=params, headers=headers)
                if response.status_code != 200:
                    problems.append(f"status {response.status_code}")
                    continue
                body = response.json()
                for row in body["results"]:
                    if row["data"]["org"] != me["slug"] or row["id"] not in me["ids"]:
                        problems.append(f"foreign row {row['id']} in {me['slug']}")
                expected = 30 if step % 3 == 0 else 20
                if body["count"] != expected or len(body["results"]) != expected:
                    problems.append(f"count {body['count']} in {me['slug']}")
        return problems

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client_run, range(CLIENTS)))
    problems = [p for result in results for p in result]
    assert problems == []
    ready = httpx.get(f"{server}/health/ready", timeout=10).json()
    pool = ready["details"]["pools"]["postgres"]  # the server lets loopback see details
    assert pool["max"] == 8
    assert pool["requests"] >= REQUESTS  # every request went through the pool
    assert pool["errors"] == 0
