from django.urls import re_path

from storage.api import views

PROJECT = r"^orgs/(?P<org>[^/]+)/projects/(?P<project>[0-9a-fA-F-]{36})"
BUCKET = PROJECT + r"/buckets/(?P<bucket>[a-z0-9][a-z0-9_-]{0,62})"

urlpatterns = [
    re_path(PROJECT + r"/buckets/?$", views.BucketListView.as_view()),
    re_path(BUCKET + r"/?$", views.BucketDetailView.as_view()),
    re_path(BUCKET + r"/objects/?$", views.ObjectListView.as_view()),
    re_path(BUCKET + r"/sign/?$", views.SignView.as_view()),
    re_path(
        BUCKET + r"/objects/(?P<key>[A-Za-z0-9][A-Za-z0-9._\-/ ]{0,499})$",
        views.ObjectDetailView.as_view(),
    ),  # fmt: skip
]
