"""WSGI entry point (HTTP only; websockets need the ASGI entry point)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")

application = get_wsgi_application()
