from django.urls import re_path

from compute.api import views

PROJECT = r"^orgs/(?P<org>[^/]+)/projects/(?P<project>[0-9a-fA-F-]{36})"
WEBHOOK = PROJECT + r"/webhooks/(?P<webhook>[0-9a-fA-F-]{36})"

urlpatterns = [
    re_path(PROJECT + r"/webhooks/?$", views.WebhookListView.as_view()),
    re_path(WEBHOOK + r"/?$", views.WebhookDetailView.as_view()),
    re_path(WEBHOOK + r"/deliveries/?$", views.DeliveryListView.as_view()),
]
