"""ASGI entry point: HTTP through Django, websockets through Channels (origin policy in
``realtime.origins``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")

# Django must be set up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from platform_site.routing import websocket_urlpatterns  # noqa: E402
from realtime.origins import WebsocketOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebsocketOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
