"""Four app instances behind nginx behave as one platform (``scripts/cluster.py``): requests
spread over all of them, and what one instance learns (a session, a revocation, a rate-limit
count, a change, a presence) every other one knows at once, because it lives in PostgreSQL
or Redis, never in one process."""

import asyncio
import time

import httpx
import psycopg
import pytest
from asgiref.sync import async_to_sync

from observability.middleware import INSTANCE_HEADER
from tests.cluster.conftest import bearer, create_collection, login, register
from tests.realtime.test_two_processes import collect, open_socket, request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # the first test starts the cluster


def test_requests_round_robin_over_every_instance(cluster):
    assert [i.name for i in cluster.instances] == ["app1", "app2", "app3", "app4"]
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        answers = [client.get("/health/live") for _ in range(16)]
    assert all(a.status_code == 200 for a in answers)
    names = [a.headers[INSTANCE_HEADER] for a in answers]
    assert set(names) == {"app1", "app2", "app3", "app4"}
    assert all("nginx" in a.headers["Server"] for a in answers)


def test_login_on_one_instance_is_good_on_every_other(cluster):
    app1, *others = cluster.instances
    account = register(cluster.url, "roaming")
    answer = login(app1.http_url, account["email"])
    assert answer.status_code == 200, answer.text
    assert answer.headers[INSTANCE_HEADER] == "app1"
    token = answer.json()["access"]
    for instance in others:
        me = httpx.get(f"{instance.http_url}/api/v1/auth/me/", headers=bearer(token), timeout=30)
        assert me.status_code == 200, (instance.name, me.text)
        assert me.headers[INSTANCE_HEADER] == instance.name
        assert me.json()["email"] == account["email"]
    # The refresh token minted on app1 rotates on app3.
    refreshed = httpx.post(
        f"{others[1].http_url}/api/v1/auth/refresh/",
        json={"refresh": answer.json()["refresh"]},
        timeout=30,
    )
    assert refreshed.status_code == 200, refreshed.text


def _me_everywhere(cluster, token: str) -> dict[str, int]:
    return {
        i.name: httpx.get(
            f"{i.http_url}/api/v1/auth/me/", headers=bearer(token), timeout=30
        ).status_code
        for i in cluster.instances
    }


def test_a_revocation_on_one_instance_is_refused_by_all_at_once(cluster):
    app1, app2, *_ = cluster.instances
    account = register(cluster.url, "revoked")
    first = login(cluster.url, account["email"]).json()
    second = login(cluster.url, account["email"]).json()
    everywhere = {i.name: 200 for i in cluster.instances}
    # Every instance has seen (and cached) both sessions before they are revoked.
    assert _me_everywhere(cluster, first["access"]) == everywhere
    assert _me_everywhere(cluster, second["access"]) == everywhere

    logout = httpx.post(
        f"{app1.http_url}/api/v1/auth/logout/", headers=bearer(first["access"]), timeout=30
    )
    assert logout.status_code == 204, logout.text
    assert _me_everywhere(cluster, first["access"]) == {i.name: 401 for i in cluster.instances}
    assert _me_everywhere(cluster, second["access"]) == everywhere

    # The other session revoked by id, on another instance.
    revoke = httpx.delete(
        f"{app2.http_url}/api/v1/auth/sessions/{second['session_id']}/",
        headers=bearer(second["access"]),
        timeout=30,
    )
    assert revoke.status_code == 204, revoke.text
    assert _me_everywhere(cluster, second["access"]) == {i.name: 401 for i in cluster.instances}


def test_a_login_rate_limit_is_counted_across_instances(cluster):
    # AUTHN_RATE_LOGIN_ACCOUNT is 4 per account for this cluster (conftest): one wrong
    # password on each instance uses it up, and the fifth attempt is refused on every one.
    account = register(cluster.url, "guessed")
    wrong = {"email": account["email"], "password": "not the passphrase"}
    for instance in cluster.instances:
        answer = httpx.post(f"{instance.http_url}/api/v1/auth/login/", json=wrong, timeout=30)
        assert answer.status_code == 401, (instance.name, answer.text)
    for instance in cluster.instances:
        answer = login(instance.http_url, account["email"])  # even the right password
        assert answer.status_code == 429, (instance.name, answer.text)
        assert answer.json()["error"]["status"] == 429
        assert int(answer.headers["Retry-After"]) > 0
    through_front = login(cluster.url, account["email"])
    assert through_front.status_code == 429


def test_a_subscriber_on_one_instance_gets_writes_made_through_another_in_order(cluster):
    app2, app4 = cluster.instances[1], cluster.instances[3]
    account = register(cluster.url, "realtime")
    token = account["access"]
    collection = create_collection(cluster.url, token, "tasks")
    org, project = collection.split("/")[4], collection.split("/")[6]

    async def body():
        ws = await open_socket(app2, token)
        try:
            await request(
                ws,
                {"type": "subscribe", "org": org, "project": project, "collection": "tasks"},
                "subscribed",
            )
            written = []
            async with httpx.AsyncClient(base_url=app4.http_url, timeout=30) as client:
                for n in range(5):
                    created = await client.post(
                        f"{collection}/records/", json={"data": {"n": n}}, headers=bearer(token)
                    )
                    assert created.status_code == 201, created.text
                    assert created.headers[INSTANCE_HEADER] == "app4"
                    written.append(("insert", created.json()["id"], n))
                record = written[0][1]
                for n in (10, 11):
                    patched = await client.patch(
                        f"{collection}/records/{record}/",
                        json={"data": {"n": n}},
                        headers=bearer(token),
                    )
                    assert patched.status_code == 200, patched.text
                    written.append(("update", record, n))
            received = []
            deadline = asyncio.get_running_loop().time() + 30
            while len(received) < len(written) and asyncio.get_running_loop().time() < deadline:
                received += [m for m in await collect(ws, 1.0) if m["type"] == "change"]
            return written, received
        finally:
            await ws.close()

    written, received = async_to_sync(body)()
    assert [(m["op"], m["id"], m["record"]["n"]) for m in received] == written


def test_presence_is_seen_across_instances(cluster):
    app1, app3 = cluster.instances[0], cluster.instances[2]
    owner = register(cluster.url, "present")
    collection = create_collection(cluster.url, owner["access"], "notes")
    org = collection.split("/")[4]
    guest = register(cluster.url, "guest")
    added = httpx.post(
        f"{cluster.url}/api/v1/orgs/{org}/members/",
        json={"email": guest["email"], "role": "developer"},
        headers=bearer(owner["access"]),
        timeout=30,
    )
    assert added.status_code == 201, added.text

    async def body():
        on_1 = await open_socket(app1, owner["access"])
        on_3 = await open_socket(app3, guest["access"])
        try:
            join = {"type": "join", "org": org, "channel": "lobby", "presence": {"at": "desk"}}
            first = await request(on_1, join, "presence_state")
            seen_on_3 = await request(on_3, {**join, "presence": {"at": "sofa"}}, "presence_state")
            # Until app1's socket hears of the join on app3 (after its own), or 30 s.
            diffs_on_1, deadline = [], asyncio.get_running_loop().time() + 30
            while len(diffs_on_1) < 2 and asyncio.get_running_loop().time() < deadline:
                diffs_on_1 += [m for m in await collect(on_1, 1.0) if m["type"] == "presence_diff"]
            return first, seen_on_3, diffs_on_1
        finally:
            await on_1.close()
            await on_3.close()

    first, seen_on_3, diffs_on_1 = async_to_sync(body)()
    assert [p["meta"] for p in first["presences"]] == [{"at": "desk"}]
    present = {p["username"]: p["meta"] for p in seen_on_3["presences"]}
    assert present == {owner["email"]: {"at": "desk"}, guest["email"]: {"at": "sofa"}}
    joins = [(p["username"], p["meta"]) for diff in diffs_on_1 for p in diff["joins"]]
    assert joins[-1] == (guest["email"], {"at": "sofa"})


def _replica_answers(cluster) -> bool:
    """The standby, through PgBouncer's "platform_replica", as the app role."""
    with psycopg.connect(
        host="127.0.0.1",
        port=cluster.pgbouncer.port,
        dbname=cluster.env["DATABASE_REPLICA_NAME"],
        user=cluster.env["DATABASE_APP_USER"],
        password=cluster.env["DATABASE_APP_PASSWORD"],
        prepare_threshold=None,
        connect_timeout=10,
    ) as connection:
        return connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]


def test_the_primary_stops_and_starts_again_with_the_standby_answering_meanwhile(cluster):
    # Last in this module: it takes the primary away for a moment.
    account = register(cluster.url, "durable")
    collection = create_collection(cluster.url, account["access"], "kept")
    auth = bearer(account["access"])
    records = f"{cluster.url}{collection}/records/"
    acknowledged = []
    for n in range(20):
        created = httpx.post(records, json={"data": {"n": n}}, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        acknowledged.append(created.json()["id"])
    assert _replica_answers(cluster) is True

    cluster.stop_primary()
    try:
        assert _replica_answers(cluster) is True
        # A write: 503 in the API's error shape, through nginx, whichever instance takes it.
        refused = httpx.post(records, json={"data": {"n": -1}}, headers=auth, timeout=60)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "database_unavailable", refused.text
        assert int(refused.headers["Retry-After"]) > 0
        # A lag-tolerant read answers from the standby once the writer's own reads are no
        # longer held on the primary (DATABASE_REPLICA_STICKY_SECONDS after its last write).
        deadline = time.monotonic() + 60
        while True:
            listed = httpx.get(records, params={"limit": 100}, headers=auth, timeout=60)
            if listed.status_code == 200 or time.monotonic() > deadline:
                break
            assert listed.status_code == 503, listed.text  # never a 500
            time.sleep(0.5)
        assert listed.status_code == 200, listed.text
        assert sorted(r["id"] for r in listed.json()["results"]) == sorted(acknowledged)
        served_by = {
            httpx.get(records, headers=auth, timeout=60).headers["X-Platform-Instance"]
            for _ in range(8)
        }
        assert len(served_by) > 1  # not one lucky instance: the reads go round
    finally:
        cluster.start_primary()
    deadline = time.monotonic() + 60
    while True:  # PgBouncer and the instances' pools reconnect on their own
        again = httpx.get(records, params={"limit": 100}, headers=auth, timeout=30)
        if again.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert again.status_code == 200, again.text
    # Every acknowledged write is there after the restart, and the refused one is not.
    assert sorted(row["id"] for row in again.json()["results"]) == sorted(acknowledged)
