"""``/rest/v1/``: PostgREST's routes over the project's record collections."""

from django.urls import re_path

from compat.rest import views
from datastore.constants import NAME_PATTERN

urlpatterns = [
    re_path(r"^rpc/(?P<function>[^/]{1,200})/?$", views.FunctionView.as_view()),
    re_path(rf"^(?P<table>{NAME_PATTERN})/?$", views.TableView.as_view()),
]
