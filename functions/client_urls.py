"""``/functions/v1/<name>[/<path>]``: client apps invoke functions (from platform_site.urls)."""

from django.urls import re_path

from functions.api.client_views import ClientInvokePathView, ClientInvokeView
from functions.constants import NAME_PATTERN

NAME = NAME_PATTERN.removeprefix("^").removesuffix("$")

# The function's own path after its name (``/<name>/sub/path``) is passed on to it.
urlpatterns = [
    re_path(rf"^(?P<name>{NAME})/?$", ClientInvokeView.as_view()),
    re_path(rf"^(?P<name>{NAME})/(?P<rest>.+)$", ClientInvokePathView.as_view()),
]
