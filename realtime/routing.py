from django.urls import path, re_path

from compat.realtime.consumers import PhoenixConsumer
from compat.realtime.routing import NativeOrPhoenix
from realtime.client import ClientRealtimeConsumer
from realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [
    # The platform's protocol, and Supabase Realtime's (Phoenix channels) on the same path.
    path("realtime/v1/websocket", NativeOrPhoenix(RealtimeConsumer.as_asgi())),
    re_path(r"^p/(?P<ref>[a-z]{20})/realtime/v1/websocket\Z", PhoenixConsumer.as_asgi()),
    # Client apps (the project from the key; also under /p/<ref>/ as the client HTTP routes).
    path("client/v1/realtime/", ClientRealtimeConsumer.as_asgi()),
    re_path(r"^p/(?P<ref>[a-z]{20})/client/v1/realtime/\Z", ClientRealtimeConsumer.as_asgi()),
]
