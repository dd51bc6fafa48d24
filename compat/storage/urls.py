"""Supabase Storage's paths under ``storage/v1/``, as storage-js builds them (the platform's
own ``o/`` and ``public/`` delivery URLs are matched first, in ``storage.urls``). A bucket's
``id`` is its name; a key is the rest of the path (the services check it)."""

from django.urls import re_path

from compat.storage import views

BUCKET = r"(?P<bucket>[^/]+)"
KEY = r"(?P<key>.+)"

urlpatterns = [
    re_path(r"^bucket/?\Z", views.BucketsView.as_view()),
    re_path(rf"^bucket/{BUCKET}/empty/?\Z", views.BucketEmptyView.as_view()),
    re_path(rf"^bucket/{BUCKET}/?\Z", views.BucketView.as_view()),
    re_path(rf"^object/list/{BUCKET}/?\Z", views.ListView.as_view()),
    re_path(r"^object/move/?\Z", views.MoveView.as_view()),
    re_path(r"^object/copy/?\Z", views.CopyView.as_view()),
    re_path(rf"^object/info/(?:authenticated/)?{BUCKET}/{KEY}\Z", views.InfoView.as_view()),
    re_path(rf"^object/upload/sign/{BUCKET}/{KEY}\Z", views.UploadSignView.as_view()),
    re_path(rf"^object/sign/{BUCKET}/?\Z", views.SignManyView.as_view()),
    re_path(rf"^object/sign/{BUCKET}/{KEY}\Z", views.SignView.as_view()),
    re_path(rf"^object/public/{BUCKET}/{KEY}\Z", views.PublicView.as_view()),
    re_path(rf"^object/authenticated/{BUCKET}/{KEY}\Z", views.AuthenticatedView.as_view()),
    re_path(rf"^object/{BUCKET}/?\Z", views.ObjectsView.as_view()),
    re_path(rf"^object/{BUCKET}/{KEY}\Z", views.ObjectView.as_view()),
]
