"""Supabase's paths, at the root as supabase-js builds them (``<url>/auth/v1`` and so on), and
under ``/p/<project ref>/`` (see ``endusers.middleware``). The realtime socket is routed in
``realtime.routing``; ``/functions/v1/`` in ``functions.client_urls``."""

from django.urls import include, path

urlpatterns = [
    path("auth/v1/", include("compat.auth.urls")),
    path("rest/v1/", include("compat.rest.urls")),
    path("storage/v1/", include("compat.storage.urls")),
]
