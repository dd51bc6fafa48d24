"""Websocket consumers log under the handshake's request id and record what breaks them as
error groups: through the real consumers, on the real ASGI stack."""

import dataclasses

import pytest
from django.conf import settings as django_settings
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

from cache.config import channel_layer_settings
from observability.consumers import ObservedConsumer
from observability.models import ErrorGroup
from platform_site.asgi import application
from platform_site.routing import websocket_urlpatterns
from tests.factories import UserFactory
from tests.observability.conftest import json_logs  # noqa: F401  (fixture)
from tests.realtime.communicator import WebsocketCommunicator
from tests.realtime.sockets import ORIGIN, PATH, connect, run, subscribe
from tests.servers import free_port

STUDIO = "/ws/studio/live/"


def _consumer_class(app):
    while not hasattr(app, "consumer_class"):
        app = app.inner  # middleware (the Studio's session and auth stack)
    return app.consumer_class


def test_every_websocket_route_is_observed():
    apps = [route.callback for route in websocket_urlpatterns]
    apps += [app.phoenix for app in apps if hasattr(app, "phoenix")]  # a shared path's other side
    classes = {_consumer_class(app).__name__: _consumer_class(app) for app in apps}
    assert set(classes) == {
        "RealtimeConsumer", "ClientRealtimeConsumer", "PhoenixConsumer", "StudioLiveConsumer"
    }  # fmt: skip
    assert all(issubclass(c, ObservedConsumer) for c in classes.values())


def test_realtime_socket_lines_carry_the_handshake_request_id(world, json_logs):  # noqa: F811
    async def body():
        ws = await connect(
            world.token(world.viewer_a), headers=[*ORIGIN, (b"x-request-id", b"rt-handshake-1")]
        )
        await subscribe(ws, "org-a", world.tasks_a)
        await ws.disconnect()

    run(body)
    lines = {x["event"]: x for x in json_logs if x["event"].startswith("realtime_")}
    assert set(lines) >= {"realtime_authenticated", "realtime_subscribed"}
    for line in lines.values():
        assert line["request_id"] == "rt-handshake-1"
        assert line["user_id"] == world.viewer_a.pk
        assert line["route"] == PATH


def test_a_realtime_consumer_failure_becomes_an_error_group(world, settings):
    # A channel layer whose Redis is not there: the consumer's receive loop fails for real.
    gone = dataclasses.replace(django_settings.REDIS, port=free_port(), connect_timeout=0.2)
    settings.CHANNEL_LAYERS = {"default": channel_layer_settings(gone)}

    async def body():
        ws = WebsocketCommunicator(
            application, PATH, headers=[*ORIGIN, (b"x-request-id", b"rt-broken-1")]
        )
        await ws.send_input({"type": "websocket.connect"})
        with pytest.raises(RedisConnectionError):
            await ws.wait(timeout=10)

    for _ in range(2):
        run(body)
    (group,) = ErrorGroup.objects.using("owner").all()
    assert (group.source, group.count) == ("websocket", 2)
    assert group.exc_type == "redis.exceptions.ConnectionError"
    assert group.sample_request_id == "rt-broken-1"


def _studio_socket(request_id: bytes):
    staff = UserFactory(password=None, is_staff=True)
    client = Client()
    client.force_login(staff)
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}"
    headers = [*ORIGIN, (b"cookie", cookie.encode()), (b"x-request-id", request_id)]
    return staff, WebsocketCommunicator(application, STUDIO, headers=headers)


def test_studio_live_lines_and_failures_carry_the_handshake_request_id(
    committed,
    settings,
    json_logs,  # noqa: F811
):
    settings.STUDIO_LIVE_INTERVAL_SECONDS = "soon"  # not a number: the pusher fails after a frame
    staff, ws = _studio_socket(b"studio-live-1")

    async def body():
        connected, _ = await ws.connect(timeout=10)
        frame = await ws.receive_json_from(timeout=30)
        closed = await ws.receive_output(timeout=30)
        await ws.disconnect()
        return connected, frame, closed

    connected, frame, closed = run(body)
    assert connected and frame["type"] == "frame"
    assert closed == {"type": "websocket.close", "code": 1011}  # the page reconnects
    (line,) = [x for x in json_logs if x["event"] == "studio_live_connected"]
    assert (line["request_id"], line["user_id"]) == ("studio-live-1", staff.pk)
    (group,) = ErrorGroup.objects.using("owner").all()
    assert (group.source, group.exc_type) == ("websocket", "builtins.TypeError")
    assert group.sample_request_id == "studio-live-1"
