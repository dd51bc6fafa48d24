"""Websocket routes, gathered from the apps that own them."""

from realtime.routing import websocket_urlpatterns as realtime_routes

websocket_urlpatterns: list = [*realtime_routes]
