from channels.auth import AuthMiddlewareStack
from django.urls import path

from studio.consumers import StudioLiveConsumer

# The Studio authenticates websockets with the admin's session cookie.
websocket_urlpatterns = [
    path("ws/studio/live/", AuthMiddlewareStack(StudioLiveConsumer.as_asgi())),
]
