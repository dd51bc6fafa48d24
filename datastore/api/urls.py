from datastore.api import document_views as docs
from datastore.api import views
from datastore.constants import NAME_PATTERN
from tenants.api.routes import PROJECT, UUID, route

COLLECTION = PROJECT + rf"/collections/(?P<collection>{NAME_PATTERN})"
DOCS = PROJECT + rf"/documents/(?P<collection>{NAME_PATTERN})"

urlpatterns = [
    route(PROJECT + r"/collections", views.CollectionListView),
    route(COLLECTION, views.CollectionDetailView),
    route(COLLECTION + r"/records", views.RecordListView),
    route(COLLECTION + rf"/records/(?P<record>{UUID})", views.RecordDetailView),
    route(DOCS, docs.DocumentListView),
    route(DOCS + r"/aggregate", docs.DocumentAggregateView),
    route(DOCS + r"/indexes", docs.DocumentIndexListView),
    route(DOCS + r"/indexes/(?P<index>[A-Za-z0-9_.-]{1,200})", docs.DocumentIndexDetailView),
    route(DOCS + r"/(?P<document>[0-9a-f]{32})", docs.DocumentDetailView),
]
