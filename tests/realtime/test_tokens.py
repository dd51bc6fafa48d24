"""The API and the websocket accept exactly the same tokens (``authenticate_access_token``).

Each token, genuine, forged or misused, goes to ``GET /api/v1/auth/me/`` and to a realtime
socket (first message, and the ``bearer.<JWT>`` subprotocol); all three must agree.
"""

import time

import jwt
from rest_framework.test import APIClient
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from authn.services import sessions
from platform_site.asgi import application
from tests.factories import UserFactory
from tests.realtime.communicator import WebsocketCommunicator
from tests.realtime.conftest import in_thread
from tests.realtime.sockets import ORIGIN, PATH, run


def _sign(claims: dict) -> str:
    return jwt.encode(claims, api_settings.SIGNING_KEY, algorithm="HS256")


def _tokens(world) -> dict[str, str]:
    claims = dict(AccessToken(world.token(world.viewer_a)).payload)
    no_sid = {k: v for k, v in claims.items() if k != "sid"}
    revoked = sessions.session_start(user=world.viewer2_a)
    sessions.session_logout(user=world.viewer2_a, session_id=revoked.session_id)
    inactive = UserFactory(password=None)
    inactive_token = sessions.session_start(user=inactive).access
    type(inactive).objects.filter(pk=inactive.pk).update(is_active=False)
    header, body, _ = world.token(world.viewer_a).split(".")
    return {
        "genuine": _sign(claims),
        "expired": _sign({**claims, "exp": int(time.time()) - 1}),
        "other_audience": _sign({**claims, "aud": "other-api"}),
        "other_issuer": _sign({**claims, "iss": "someone-else"}),
        "refresh_type": _sign({**claims, "token_type": "refresh"}),
        "unsigned": f"{header}.{body}.",
        "no_session": _sign(no_sid),
        "malformed_session": _sign({**claims, "sid": "not-a-uuid"}),
        "malformed_subject": _sign({**claims, "sub": "viewer"}),
        "another_users_subject": _sign({**claims, "sub": str(world.viewer2_a.pk)}),
        "revoked_session": revoked.access,
        "inactive_user": inactive_token,
        "garbage": "not.a.jwt",
        "oversized": "x" * 5000,
    }


async def _socket(token: str, via: str):
    if via == "subprotocol":
        ws = WebsocketCommunicator(
            application, PATH, headers=ORIGIN,
            subprotocols=["platform.realtime.v1", f"bearer.{token}"],
        )  # fmt: skip
        connected, detail = await ws.connect(timeout=5)
        if not connected:
            await ws.disconnect()
            return detail
    else:
        ws = WebsocketCommunicator(application, PATH, headers=ORIGIN)
        assert (await ws.connect(timeout=5))[0]
        await ws.send_json_to({"type": "auth", "token": token})
    reply = await ws.receive_output(timeout=5)
    await ws.disconnect()  # closed by the server or not: the application instance ends
    return reply["code"] if reply["type"] == "websocket.close" else "ready"


def test_the_api_and_the_websocket_accept_the_same_tokens(world):
    tokens = in_thread(_tokens, world)

    def api(token):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get("/api/v1/auth/me/").status_code

    async def body():
        return {
            case: (
                await _socket(token, "message"),
                # Over the subprotocol header only what a header may carry.
                await _socket(token, "subprotocol") if "." in token else None,
            )
            for case, token in tokens.items()
        }

    sockets = run(body)
    outcomes = {case: (api(token), *sockets[case]) for case, token in tokens.items()}
    refused = {case: (401, 4401, 4401) for case in tokens}
    refused["genuine"] = (200, "ready", "ready")
    refused["oversized"] = (401, 4401, None)
    assert outcomes == refused
