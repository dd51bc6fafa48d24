from django.urls import re_path

from datastore.api import document_views as docs
from datastore.api import views

PROJECT = r"^orgs/(?P<org>[^/]+)/projects/(?P<project>[0-9a-fA-F-]{36})"
COLLECTION = PROJECT + r"/collections/(?P<collection>[A-Za-z][A-Za-z0-9_]{0,62})"
RECORD = r"(?P<record>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"

DOCS = PROJECT + r"/documents/(?P<collection>[A-Za-z][A-Za-z0-9_]{0,62})"

urlpatterns = [
    re_path(PROJECT + r"/collections/?$", views.CollectionListView.as_view()),
    re_path(COLLECTION + r"/?$", views.CollectionDetailView.as_view()),
    re_path(COLLECTION + r"/records/?$", views.RecordListView.as_view()),
    re_path(COLLECTION + r"/records/" + RECORD + r"/?$", views.RecordDetailView.as_view()),
    re_path(DOCS + r"/?$", docs.DocumentListView.as_view()),
    re_path(DOCS + r"/aggregate/?$", docs.DocumentAggregateView.as_view()),
    re_path(DOCS + r"/indexes/?$", docs.DocumentIndexListView.as_view()),
    re_path(
        DOCS + r"/indexes/(?P<index>[A-Za-z0-9_.-]{1,200})/?$",
        docs.DocumentIndexDetailView.as_view(),
    ),
    re_path(DOCS + r"/(?P<document>[0-9a-f]{32})/?$", docs.DocumentDetailView.as_view()),
]
