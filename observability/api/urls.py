from observability.api import views
from tenants.api.routes import ORG, UUID, route

CHANNEL = ORG + rf"/alert-channels/(?P<channel>{UUID})"
ALERT = ORG + rf"/alerts/(?P<alert>{UUID})"

urlpatterns = [
    route(ORG + r"/alert-channels", views.AlertChannelListView),
    route(CHANNEL, views.AlertChannelDetailView),
    route(CHANNEL + r"/test", views.AlertChannelTestView),
    route(ORG + r"/alerts", views.AlertListView),
    route(ALERT, views.AlertDetailView),
    route(ALERT + r"/acknowledge", views.AlertAcknowledgeView),
]
