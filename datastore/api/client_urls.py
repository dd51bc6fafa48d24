"""Client apps' routes of records and documents (included under ``/client/v1/``)."""

from django.urls import re_path

from datastore.api import client_views as views
from datastore.constants import NAME_PATTERN
from tenants.api.routes import UUID

COLLECTION = rf"^collections/(?P<collection>{NAME_PATTERN})/records"
DOCS = rf"^documents/(?P<collection>{NAME_PATTERN})"

urlpatterns = [
    re_path(COLLECTION + r"/?$", views.ClientRecordListView.as_view()),
    re_path(COLLECTION + rf"/(?P<record>{UUID})/?$", views.ClientRecordDetailView.as_view()),
    re_path(DOCS + r"/?$", views.ClientDocumentListView.as_view()),
    re_path(DOCS + r"/(?P<document>[0-9a-f]{32})/?$", views.ClientDocumentDetailView.as_view()),
]
