"""The platform's URLs plus views that find PostgreSQL shut down (the 503 tests)."""

import psycopg
from django.db import OperationalError
from django.urls import path

from platform_site.urls import urlpatterns as platform_urlpatterns


def shut_down(request, **kwargs):
    try:
        raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    except psycopg.Error as exc:
        raise OperationalError(str(exc)) from exc


handler500 = "platform_site.errors.handler500"
urlpatterns = [
    path("api/v1/down", shut_down),
    path("studio-down/", shut_down),
    *platform_urlpatterns,
]
