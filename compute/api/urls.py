from compute.api import views
from tenants.api.routes import PROJECT, UUID, route

WEBHOOK = PROJECT + rf"/webhooks/(?P<webhook>{UUID})"
JOB = PROJECT + rf"/jobs/(?P<job>{UUID})"

urlpatterns = [
    route(PROJECT + r"/webhooks", views.WebhookListView),
    route(WEBHOOK, views.WebhookDetailView),
    route(WEBHOOK + r"/deliveries", views.DeliveryListView),
    route(PROJECT + r"/jobs", views.JobListView),
    route(JOB, views.JobDetailView),
    route(JOB + r"/runs", views.JobRunView),
]
