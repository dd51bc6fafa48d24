from storage.api import views
from tenants.api.routes import PROJECT, route

BUCKET = PROJECT + r"/buckets/(?P<bucket>[a-z0-9][a-z0-9_-]{0,62})"
KEY = r"(?P<key>[A-Za-z0-9][A-Za-z0-9._\-/ ]{0,499})"

urlpatterns = [
    route(PROJECT + r"/buckets", views.BucketListView),
    route(BUCKET, views.BucketDetailView),
    route(BUCKET + r"/objects", views.ObjectListView),
    route(BUCKET + r"/sign", views.SignView),
    # A key may contain slashes, so no optional trailing one.
    route(BUCKET + r"/objects/" + KEY, views.ObjectDetailView, trailing_slash=False),
]
