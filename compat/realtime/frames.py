"""Phoenix channel frames as Supabase's realtime-js reads and writes them.

A message is ``(join_ref, ref, topic, event, payload)``. Serializer ``1.0.0`` sends it as a
JSON object with those five keys; ``2.0.0`` as a JSON array in that order, and a user
broadcast as a binary frame (realtime-js ``lib/serializer.js``):

* client to server, kind 3 ("user broadcast push"): ``kind, len(join_ref), len(ref),
  len(topic), len(event), len(metadata), encoding`` (one byte each), then those fields (UTF-8)
  and the payload: JSON text (encoding 1) or raw bytes (encoding 0). The metadata is a JSON
  object of allowed keys (``persist``) or empty.
* server to client, kind 4 ("user broadcast"): ``kind, len(topic), len(event),
  len(metadata), encoding``, then topic, event, metadata and payload.

Anything else is a :class:`FrameError`: the socket answers it by closing (1007).
"""

import json
from dataclasses import dataclass
from typing import Any

VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
VERSIONS = (VSN_1, VSN_2)
USER_BROADCAST_PUSH = 3
USER_BROADCAST = 4
BINARY, JSON = 0, 1
_FIELDS = ("join_ref", "ref", "topic", "event", "payload")


class FrameError(ValueError):
    pass


@dataclass(frozen=True)
class Frame:
    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


def _frame(join_ref, ref, topic, event, payload) -> Frame:
    for name, value in (("join_ref", join_ref), ("ref", ref)):
        if value is not None and not isinstance(value, str | int):
            raise FrameError(f"{name} is a string or null")
    if not isinstance(topic, str) or not isinstance(event, str) or not topic or not event:
        raise FrameError("topic and event are non-empty strings")
    if not isinstance(payload, dict):
        raise FrameError("payload is an object")
    return Frame(
        None if join_ref is None else str(join_ref),
        None if ref is None else str(ref),
        topic,
        event,
        payload,
    )


def decode_text(text: str, vsn: str) -> Frame:
    try:
        message = json.loads(text)
    except ValueError:
        raise FrameError("not JSON") from None
    if vsn == VSN_1:
        if not isinstance(message, dict) or not {"topic", "event"} <= message.keys():
            raise FrameError("a 1.0.0 message is an object with topic, event and payload")
        return _frame(*(message.get(name) for name in _FIELDS))
    if not isinstance(message, list) or len(message) != 5:
        raise FrameError("a 2.0.0 message is [join_ref, ref, topic, event, payload]")
    return _frame(*message)


def decode_binary(data: bytes) -> Frame:
    """A user broadcast push (kind 3), the one binary frame a client sends."""
    if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
        raise FrameError("the only binary frame is a user broadcast push (kind 3)")
    sizes, encoding = data[1:6], data[6]
    if encoding not in (BINARY, JSON):
        raise FrameError("payload encoding is 0 (binary) or 1 (JSON)")
    offset, fields = 7, []
    for size in sizes:
        if offset + size > len(data):
            raise FrameError("field lengths exceed the frame")
        try:
            fields.append(data[offset : offset + size].decode())
        except UnicodeDecodeError:
            raise FrameError("header fields are UTF-8") from None
        offset += size
    join_ref, ref, topic, event, metadata = fields
    body = data[offset:]
    try:
        meta = json.loads(metadata) if metadata else {}
        payload = json.loads(body) if encoding == JSON else bytes(body)
    except ValueError:
        raise FrameError("metadata and a JSON payload are JSON") from None
    if not isinstance(meta, dict):
        raise FrameError("metadata is a JSON object")
    message = {**meta, "type": "broadcast", "event": event, "payload": payload}
    return _frame(join_ref or None, ref or None, topic, "broadcast", message)


def encode(frame: Frame, vsn: str) -> str:
    fields = (frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload)
    if vsn == VSN_1:
        return json.dumps(dict(zip(_FIELDS, fields, strict=True)))
    return json.dumps(fields)


def encode_user_broadcast(topic: str, event: str, payload: Any) -> bytes:
    """The kind 4 frame a 2.0.0 client decodes into ``{type: "broadcast", event, payload}``."""
    encoding = BINARY if isinstance(payload, bytes) else JSON
    body = payload if encoding == BINARY else json.dumps(payload).encode()
    topic_bytes, event_bytes = topic.encode(), event.encode()
    if len(topic_bytes) > 255 or len(event_bytes) > 255:
        raise FrameError("topic and event are at most 255 bytes in a binary frame")
    header = bytes([USER_BROADCAST, len(topic_bytes), len(event_bytes), 0, encoding])  # no metadata
    return header + topic_bytes + event_bytes + body
