from django.urls import re_path

from datastore.api import views

PROJECT = r"^orgs/(?P<org>[^/]+)/projects/(?P<project>[0-9a-fA-F-]{36})"
COLLECTION = PROJECT + r"/collections/(?P<collection>[A-Za-z][A-Za-z0-9_]{0,62})"
RECORD = r"(?P<record>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"

urlpatterns = [
    re_path(PROJECT + r"/collections/?$", views.CollectionListView.as_view()),
    re_path(COLLECTION + r"/?$", views.CollectionDetailView.as_view()),
    re_path(COLLECTION + r"/records/?$", views.RecordListView.as_view()),
    re_path(COLLECTION + r"/records/" + RECORD + r"/?$", views.RecordDetailView.as_view()),
]
