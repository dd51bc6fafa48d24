"""The platform's side of the supervisor's Unix socket (protocol in ``functions.supervisor``)."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from django.conf import settings


class SupervisorUnavailable(Exception):
    """Nothing answers on ``FUNCTIONS_SUPERVISOR_SOCKET``."""


_client: httpx.Client | None = None
_client_path: str | None = None


def _http() -> httpx.Client:
    global _client, _client_path
    path = settings.FUNCTIONS_SUPERVISOR_SOCKET
    if _client is None or _client_path != path:
        _client = httpx.Client(
            transport=httpx.HTTPTransport(uds=path),
            base_url="http://supervisor",
            timeout=httpx.Timeout(connect=2.0, read=None, write=30.0, pool=30.0),
        )
        _client_path = path
    return _client


def check(source: str) -> tuple[bool, str]:
    try:
        response = _http().post("/check", json={"source": source}, timeout=60.0)
    except httpx.TransportError as exc:
        raise SupervisorUnavailable(str(exc)) from exc
    body = response.json()
    return bool(body["ok"]), body["message"]


def put_worker(key: str, *, warm: bool = False, **spec) -> None:
    """What worker ``key`` runs (``services._worker_spec``); ``warm``: start it now."""
    try:
        _http().put(f"/workers/{key}", json={**spec, "warm": warm})
    except httpx.TransportError as exc:
        raise SupervisorUnavailable(str(exc)) from exc


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    exit_reason: str
    chunks: Iterator[bytes]


def invoke(key: str, *, headers: dict, body: bytes, on_unknown) -> tuple[Answer, object]:
    """Start the invocation; ``on_unknown()`` PUTs the worker when the supervisor lacks it.
    Returns the answer and the open response (the caller closes it after reading)."""
    for _ in range(2):
        request = _http().build_request("POST", f"/invoke/{key}", headers=headers, content=body)
        try:
            response = _http().send(request, stream=True)
        except httpx.TransportError as exc:
            raise SupervisorUnavailable(str(exc)) from exc
        if response.status_code == 428:
            response.close()
            on_unknown()
            continue
        answer = Answer(
            status=response.status_code,
            headers=[
                (k, v)
                for k, v in response.headers.multi_items()
                if k.lower() not in ("x-fn-exit", "transfer-encoding", "content-length")
            ],
            exit_reason=response.headers.get("x-fn-exit", "crashed"),
            chunks=response.iter_raw(),
        )
        return answer, response
    raise SupervisorUnavailable("the supervisor did not take the worker")


def record(invocation_id: str) -> dict | None:
    try:
        response = _http().get(f"/invocations/{invocation_id}")
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def health() -> dict:
    try:
        return _http().get("/health").json()
    except (httpx.TransportError, json.JSONDecodeError) as exc:
        raise SupervisorUnavailable(str(exc)) from exc
