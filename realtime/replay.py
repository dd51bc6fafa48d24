"""The replay log: the recent change events of each collection, so a socket that reconnects
(to any app instance) resumes where it stopped instead of missing what was committed meanwhile.

One Redis Stream per collection group (``platform:rt:replay:<group>``). ``append`` adds a
publish's events in one round trip (a small Lua script on the process's one Redis pool,
``cache.client.get_redis``): each entry holds the event as JSON and the id of the entry before
it; the entry's id is the event's ``cursor`` (opaque to clients, increasing per collection in
the order the log received the events). The log keeps about ``REALTIME_REPLAY_MAXLEN`` events
(``XADD ... MAXLEN ~``: whole stream nodes are dropped, so a little more may stay) and
disappears once the collection had no change for ``REALTIME_REPLAY_TTL_SECONDS``.

``read_after(group, since)`` is what a socket subscribing with ``since`` replays: the events
after that cursor, in order, or ``None`` when the log cannot vouch for them (trimmed past
``since``, deleted, expired, or ``since`` is not in its chain of entries): the client must
re-list. Each entry naming the one before it makes that exact: the entry after ``since`` must
name ``since``. ``between(group, after, before)`` fills a gap a socket noticed in its live
events (an event's ``prev`` is not what it saw last: another process's event still in flight,
or one the channel layer dropped).
"""

import json
import re

from django.conf import settings

from cache.client import get_redis

PAGE = 500
_CURSOR = re.compile(r"^\d{1,20}-\d{1,20}$")

# KEYS[1] the stream; ARGV: maxlen, ttl seconds, then one JSON event each. Returns the id of the
# entry before the first new one ("" when the stream is new) followed by the new entries' ids.
_APPEND = """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = ''
if top[1] then prev = top[1][1] end
local out = {prev}
for i = 3, #ARGV do
  prev = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i], 'p', prev)
  out[#out + 1] = prev
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return out
"""
_append_script = None


def stream_key(group: str) -> str:
    return f"platform:rt:replay:{group}"


def is_cursor(value) -> bool:
    """Is ``value`` shaped like a cursor (a stream entry id Redis would accept)?"""
    if not isinstance(value, str) or _CURSOR.match(value) is None:
        return False
    return all(int(part) < 2**64 for part in value.split("-"))


def order(cursor: str) -> tuple[int, int]:
    """A cursor's place in its collection's log (cursors compare by this, not as text)."""
    ms, seq = cursor.split("-")
    return int(ms), int(seq)


def _run_append(keys: list, args: list) -> list:
    global _append_script
    client = get_redis()
    if _append_script is None:
        _append_script = client.register_script(_APPEND)
    return _append_script(keys=keys, args=args, client=client)  # EVALSHA, loaded once


def append(group: str, events: list[dict]) -> None:
    """Log ``events`` (in order) and give each its ``cursor`` and ``prev`` (the cursor of the
    event logged before it, None for a new log). Raises what Redis raises (callers go through
    the breaker)."""
    payloads = [json.dumps(event, separators=(",", ":")) for event in events]
    maxlen = settings.REALTIME_REPLAY_MAXLEN
    ttl = settings.REALTIME_REPLAY_TTL_SECONDS
    ids = [_text(i) for i in _run_append([stream_key(group)], [maxlen, ttl, *payloads])]
    for event, prev, cursor in zip(events, ids, ids[1:], strict=False):
        event["cursor"], event["prev"] = cursor, prev or None


def forget(groups: list[str]) -> None:
    """Delete the logs of ``groups`` (events of theirs were never logged): every cursor of
    theirs then asks for a re-list."""
    get_redis().delete(*[stream_key(group) for group in groups])


def read_after(group: str, since: str) -> list[dict] | None:
    """The logged events after ``since``, oldest first; None: re-list, the log cannot vouch
    that nothing after ``since`` is missing.

    The first entry after ``since`` must name ``since`` as the entry before it (else what came
    between was trimmed, or ``since`` belongs to a log that was deleted, expired or lost in a
    failover); with nothing after it, ``since`` must be the newest entry."""
    key = stream_key(group)
    pipe = get_redis().pipeline(transaction=False)
    pipe.xrange(key, f"({since}", "+", count=PAGE)
    pipe.xrevrange(key, "+", "-", count=1)
    page, newest = pipe.execute()
    if page:
        if _text(page[0][1].get(b"p", b"")) != since:
            return None
    elif not newest or _text(newest[0][0]) != since:
        return None
    events = []
    while page:
        events.extend(_event(entry_id, fields) for entry_id, fields in page)
        if len(page) < PAGE:
            break
        page = get_redis().xrange(key, f"({events[-1]['cursor']}", "+", count=PAGE)
    return events


def between(group: str, after: str, before: str) -> list[dict]:
    """The logged events strictly between two cursors, oldest first (what was trimmed is not
    there)."""
    entries = get_redis().xrange(stream_key(group), f"({after}", f"({before}")
    return [_event(entry_id, fields) for entry_id, fields in entries]


def _event(entry_id, fields) -> dict:
    event = json.loads(fields[b"e"])
    event["cursor"] = _text(entry_id)
    event["prev"] = _text(fields.get(b"p", b"")) or None
    return event


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
