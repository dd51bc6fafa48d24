from django.urls import path, re_path

from realtime.client import ClientRealtimeConsumer
from realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [
    path("realtime/v1/websocket", RealtimeConsumer.as_asgi()),
    # Client apps (the project from the key; also under /p/<ref>/ as the client HTTP routes).
    path("client/v1/realtime/", ClientRealtimeConsumer.as_asgi()),
    re_path(r"^p/(?P<ref>[a-z]{20})/client/v1/realtime/\Z", ClientRealtimeConsumer.as_asgi()),
]
