"""Websocket routes, gathered from the apps that own them."""

from realtime.routing import websocket_urlpatterns as realtime_routes
from studio.routing import websocket_urlpatterns as studio_routes

websocket_urlpatterns = [*realtime_routes, *studio_routes]
