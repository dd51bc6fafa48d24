"""The per-project request log: a request only appends to this process's buffer (no Redis
command on its thread); one pipeline sends the buffer; projects' logs and counters are apart;
Redis down drops the entries and says so."""

import threading
import uuid
from types import SimpleNamespace

import pytest
from django.test import override_settings

from cache.breaker import RedisUnavailable
from observability import request_log


def fake(project_id, *, status=200, request_id="r"):
    client = SimpleNamespace(project_id=project_id, role="anon", end_user_id=None)
    request = SimpleNamespace(
        client=client, method="GET", path="/rest/v1/todos", resolver_match=None,
        request_id=request_id,
    )  # fmt: skip
    return request, SimpleNamespace(status_code=status)


@pytest.fixture
def redis_calls(monkeypatch):
    """The Redis clients handed out on this test's thread (the flusher thread's not counted)."""
    calls = []
    real = request_log.get_redis
    me = threading.get_ident()

    def counting():
        if threading.get_ident() == me:
            calls.append(1)
        return real()

    monkeypatch.setattr(request_log, "get_redis", counting)
    return calls


@override_settings(REQUEST_LOG_FLUSH_ENTRIES=10**6)
def test_a_request_costs_no_redis_command_and_a_read_sees_every_entry(redis_calls):
    project, other = uuid.uuid4(), uuid.uuid4()
    for i in range(30):
        request_log.record(*fake(project, request_id=f"req-{i}"), 0.002)
    request_log.record(*fake(other, request_id="elsewhere"), 0.002)
    assert redis_calls == []  # appended in memory only
    rows = request_log.entries(project_id=project)
    assert [r["request_id"] for r in rows] == [f"req-{i}" for i in reversed(range(30))]
    assert rows[0]["status"] == "200" and rows[0]["ms"] == "2.0" and rows[0]["role"] == "anon"
    assert request_log.requests_last_24h(project_id=project) == 30
    assert [r["request_id"] for r in request_log.entries(project_id=other)] == ["elsewhere"]


def test_redis_down_drops_the_buffer_and_the_reads_say_so(monkeypatch):
    project = uuid.uuid4()

    def down(*args, **kwargs):
        raise RedisUnavailable("down")

    monkeypatch.setattr(request_log, "redis_call", down)
    request_log.record(*fake(project), 0.001)  # whichever flush takes it drops it
    assert request_log.requests_last_24h(project_id=project) is None
    with pytest.raises(RedisUnavailable):
        request_log.entries(project_id=project)
    monkeypatch.undo()
    assert request_log.entries(project_id=project) == []  # dropped, not piled up
