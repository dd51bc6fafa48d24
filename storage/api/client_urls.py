"""Client apps' storage routes (``/client/v1/storage/...``; the project is the key's)."""

from django.urls import re_path

from storage.api import views

BUCKET = r"storage/(?P<bucket>[a-z0-9][a-z0-9_-]{0,62})"
KEY = r"(?P<key>[A-Za-z0-9][A-Za-z0-9._\-/ ]{0,499})"

urlpatterns = [
    re_path(rf"^{BUCKET}/\Z", views.ClientObjectListView.as_view(), name="storage-objects"),
    # A key may contain slashes, so no trailing one.
    re_path(rf"^{BUCKET}/object/{KEY}\Z", views.ClientObjectView.as_view(), name="storage-object"),
    re_path(rf"^{BUCKET}/sign/{KEY}\Z", views.ClientSignView.as_view(), name="storage-sign"),
]
