"""Websocket routes, gathered from the apps that own them."""

from studio.routing import websocket_urlpatterns as studio_routes

websocket_urlpatterns = [*studio_routes]
