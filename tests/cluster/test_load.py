"""Load through nginx while an instance dies: 4 instances, 64 concurrent clients of idempotent
GETs (health, a record list, a record) for a minute, a stream of creates beside them, and one
instance SIGKILLed a third of the way in.

nginx passes a GET that could not be answered by the dead instance to the next one
(``proxy_next_upstream error timeout``): none may fail, except one whose response the dying
instance had already begun (nginx had passed its headers on, so no proxy can resend it): those
are counted, printed, and at most the victim's share of the clients. A POST that may have
reached the dead instance is not retried (it could run twice): those failures are counted
and printed, not forbidden. Every create that was acknowledged (2xx) must exist afterwards,
and none twice.

Websocket subscribers of the collection, two of them on the instance that dies, keep the cursor
of the last change they received; when their socket drops they connect again through nginx
(which sends them to a live instance) and resume from it. Each must end up with every
acknowledged create, without a re-sync."""

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from observability.middleware import INSTANCE_HEADER
from realtime.consumers import SUBPROTOCOL
from tests.cluster.conftest import bearer, create_collection, register, running_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SECONDS = 60
CONCURRENCY = 64
KILL_AT = SECONDS / 3


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answered = Counter()  # instance name -> answers (before and after the kill)
        self.after_kill = Counter()
        self.read_failures: list[str] = []
        # GETs whose response the dying instance had begun: nginx had already passed its
        # headers on, so neither it nor any proxy can send the request elsewhere.
        self.cut_off: list[str] = []
        self.killed_at: float | None = None
        self.create_failures: list[str] = []
        self.created: list[str] = []
        self.reads = 0
        self.killed = threading.Event()

    def answer(self, response: httpx.Response) -> None:
        with self.lock:
            name = response.headers.get(INSTANCE_HEADER, "?")
            (self.after_kill if self.killed.is_set() else self.answered)[name] += 1


def _reader(url: str, token: str, paths: list[str], stop: threading.Event, tally: Tally):
    with httpx.Client(base_url=url, timeout=30, headers=bearer(token)) as client:
        for path in itertools.cycle(paths):
            if stop.is_set():
                return
            try:
                response = client.get(path)
            except httpx.RemoteProtocolError as exc:
                with tally.lock:
                    at_kill = tally.killed_at is not None and time.monotonic() - tally.killed_at < 2
                    cut_off = at_kill and "without sending complete message body" in str(exc)
                    (tally.cut_off if cut_off else tally.read_failures).append(
                        f"GET {path}: {exc!r}"
                    )
                continue
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.read_failures.append(f"GET {path}: {exc!r}")
                continue
            tally.answer(response)
            with tally.lock:
                tally.reads += 1
                if response.status_code != 200:
                    tally.read_failures.append(f"GET {path}: {response.status_code}")


def _creator(url: str, token: str, records: str, stop: threading.Event, tally: Tally):
    with httpx.Client(base_url=url, timeout=30, headers=bearer(token)) as client:
        for n in itertools.count():
            if stop.is_set():
                return
            try:
                response = client.post(records, json={"data": {"n": n}})
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.create_failures.append(f"POST: {exc!r}")
                continue
            tally.answer(response)
            with tally.lock:
                if response.is_success:
                    tally.created.append(response.json()["id"])
                else:
                    tally.create_failures.append(f"POST: {response.status_code}")


class Subscriber(threading.Thread):
    """One websocket client of the collection, in a thread of its own: it records the ids of
    the changes it receives and the instances it was connected to, and after a lost socket
    resumes through ``resume_url`` from the cursor of the last change it got."""

    def __init__(self, first_url: str, resume_url: str, token: str, subscribe: dict):
        super().__init__(daemon=True)
        self.url, self.resume_url, self.token, self.subscribe = (
            first_url,
            resume_url,
            token,
            subscribe,
        )
        self.seen: set[str] = set()
        self.instances: list[str] = []
        self.reconnects = self.resyncs = 0
        self.errors: list[str] = []
        self.cursor: str | None = None
        self.subscribed = threading.Event()
        self.finish = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        while not self.finish.is_set():
            try:
                await self._session()
            except (OSError, TimeoutError, WebSocketException) as exc:
                if self.finish.is_set():
                    return
                self.reconnects += 1
                self.errors.append(repr(exc))
                self.url = self.resume_url
                await asyncio.sleep(0.2)

    async def _session(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/realtime/v1/websocket"
        async with connect(
            ws_url, origin="http://127.0.0.1", subprotocols=[SUBPROTOCOL], open_timeout=30
        ) as ws:
            await ws.send(json.dumps({"type": "auth", "token": self.token}))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert ready["type"] == "ready", ready
            self.instances.append(ready["instance"])
            since = {"since": self.cursor} if self.cursor else {}
            await ws.send(json.dumps({**self.subscribe, **since}))
            while not self.finish.is_set():
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                if message["type"] == "subscribed":
                    self.subscribed.set()
                elif message["type"] == "change":
                    self.seen.add(message["id"])
                    self.cursor = message["cursor"]
                elif message["type"] == "resync_required":
                    self.resyncs += 1
                elif message["type"] == "error":
                    self.errors.append(str(message))


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _listed(url: str, token: str, records: str) -> dict[str, int | None]:
    """Every record of the collection: id -> its ``n`` (None for the seeded ones)."""
    found, cursor = {}, None
    with httpx.Client(base_url=url, timeout=30, headers=bearer(token)) as client:
        while True:
            params = {"limit": "200", "fields": "n", **({"cursor": cursor} if cursor else {})}
            page = client.get(records, params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            found |= {row["id"]: row["data"].get("n") for row in body["results"]}
            cursor = body["next_cursor"]
            if not cursor:
                return found


def test_sigkill_of_an_instance_under_load_fails_no_idempotent_request():
    with running_cluster(4) as cluster:
        token = register(cluster.url, "load")["access"]
        records = create_collection(cluster.url, token, "items") + "/records/"
        seeded = httpx.post(
            cluster.url + records,
            json={"items": [{"data": {"seed": n}} for n in range(20)]},
            headers=bearer(token),
            timeout=30,
        )
        assert seeded.status_code == 201, seeded.text
        listed = httpx.get(cluster.url + records, headers=bearer(token), timeout=30).json()
        one = f"{records}{listed['results'][0]['id']}/"
        paths = ["/health/live", records + "?limit=20", one]
        victim = cluster.instances[1]
        org, project, name = records.split("/")[4], records.split("/")[6], records.split("/")[8]
        subscribe = {"type": "subscribe", "org": org, "project": project, "collection": name}
        subscribers = [
            Subscriber(f"http://127.0.0.1:{victim.ws_port}", cluster.url, token, subscribe)
            for _ in range(2)
        ] + [Subscriber(cluster.url, cluster.url, token, subscribe) for _ in range(4)]
        for subscriber in subscribers:
            subscriber.start()
        assert all(s.subscribed.wait(60) for s in subscribers), [s.errors for s in subscribers]
        # One change everyone has seen: each holds a cursor before the load starts.
        marker = httpx.post(
            cluster.url + records, json={"data": {"marker": True}}, headers=bearer(token)
        )
        assert marker.status_code == 201, marker.text
        marker_id = marker.json()["id"]
        assert _wait_for(lambda: all(marker_id in s.seen for s in subscribers), 60)

        tally, stop = Tally(), threading.Event()
        with ThreadPoolExecutor(CONCURRENCY + 1) as pool:
            readers = [
                pool.submit(_reader, cluster.url, token, paths[n % 3 :] + paths[: n % 3],
                            stop, tally)
                for n in range(CONCURRENCY)
            ]  # fmt: skip
            creator = pool.submit(_creator, cluster.url, token, records, stop, tally)
            started = time.monotonic()
            stop.wait(KILL_AT)
            tally.killed_at = time.monotonic()
            victim.kill()
            tally.killed.set()
            stop.wait(max(0.0, SECONDS - (time.monotonic() - started)))
            stop.set()
            for future in [*readers, creator]:
                future.result()

        print(
            f"\n{tally.reads} GETs, {len(tally.read_failures)} failed, "
            f"{len(tally.cut_off)} cut off mid-response by the kill; "
            f"{len(tally.created)} creates acknowledged, "
            f"{len(tally.create_failures)} failed (not retried by nginx): "
            f"{Counter(tally.create_failures).most_common(3)}; "
            f"answers before the kill {dict(tally.answered)}, after {dict(tally.after_kill)}"
        )
        assert not victim.alive()
        # Every instance took its share before the kill; the dead one answered nothing later
        # (a response it had sent as it died may still count: at most a handful).
        assert {"app1", "app2", "app3", "app4"} <= set(tally.answered)
        assert tally.after_kill["app2"] <= CONCURRENCY
        assert sum(tally.after_kill.values()) > tally.after_kill["app2"]
        assert tally.read_failures == []
        # A response cut off as the instance died: at most the victim's share of the clients.
        assert len(tally.cut_off) <= CONCURRENCY // len(cluster.instances), tally.cut_off
        assert tally.created, "no create was acknowledged"
        stored = _listed(cluster.url, token, records)
        missing = set(tally.created) - stored.keys()
        assert missing == set(), f"{len(missing)} acknowledged creates are gone"
        # ... and none ran twice (each POST wrote its own n): nginx retried no create.
        numbers = [n for n in stored.values() if n is not None]
        assert len(numbers) == len(set(numbers))

        # Every subscriber got every acknowledged create, those of the dead instance through a
        # resume on another one, and none needed a re-sync.
        expected = set(tally.created)
        everything = _wait_for(lambda: all(expected <= s.seen for s in subscribers), 90)
        for subscriber in subscribers:
            subscriber.finish.set()
        for subscriber in subscribers:
            subscriber.join(30)
        report = [
            (s.instances, s.reconnects, s.resyncs, len(expected - s.seen)) for s in subscribers
        ]
        print(f"subscribers (instances, reconnects, resyncs, missing): {report}")
        assert everything, report
        assert all(s.resyncs == 0 for s in subscribers), report
        for subscriber in subscribers[:2]:  # the dead instance's own
            assert subscriber.instances[0] == "app2" and subscriber.reconnects >= 1, report
            assert "app2" not in subscriber.instances[1:], report

        # The instance comes back on its own ports and answers again.
        victim.start().wait_ready()
        again = httpx.get(f"{victim.http_url}/health/live", timeout=30)
        assert again.status_code == 200
        assert again.headers[INSTANCE_HEADER] == "app2"
