"""The handshake's ``Origin``: clients that send none (mobile apps, servers, curl) connect and
authenticate by token; browsers connect only from our hosts or the API's CORS origins."""

from platform_site.asgi import application
from tests.realtime.communicator import WebsocketCommunicator
from tests.realtime.sockets import PATH, connect, run

STUDIO = "/ws/studio/live/"


async def opens(path: str, headers) -> tuple[bool, object]:
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, detail = await ws.connect(timeout=5)
    await ws.disconnect()  # refused or not: the application instance ends
    return connected, detail


def test_clients_without_an_origin_connect_and_authenticate(world):
    async def body():
        ws = await connect(world.token(world.viewer_a), headers=[])  # asserts "ready"
        await ws.send_json_to({"type": "heartbeat"})
        pong = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        by_subprotocol = await connect(world.token(world.viewer_a), via="subprotocol", headers=[])
        await by_subprotocol.disconnect()
        return pong

    assert run(body)["type"] == "heartbeat"


def test_browsers_connect_only_from_our_hosts_or_the_cors_origins(world, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    origins = {
        b"http://127.0.0.1": True,  # ALLOWED_HOSTS
        b"http://localhost:8000": True,
        b"https://app.example.com": True,  # CORS_ALLOWED_ORIGINS, scheme and port included
        b"http://app.example.com": False,
        b"https://app.example.com:8443": False,
        b"https://evil.example": False,
        b"https://127.0.0.1.evil.example": False,
        b"null": False,  # sandboxed frames, file:// pages
        b"": False,
        b"\xff\xfe": False,
    }

    async def body():
        return {origin: (await opens(PATH, [(b"origin", origin)]))[0] for origin in origins}

    assert run(body) == origins


def test_the_studio_channel_still_wants_a_staff_login_without_an_origin(world):
    async def body():
        return await opens(STUDIO, []), await opens(STUDIO, [(b"origin", b"https://evil.example")])

    no_origin, foreign = run(body)
    assert no_origin == (False, 4403)  # past the origin check, refused by the consumer
    assert foreign[0] is False
