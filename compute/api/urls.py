from django.urls import re_path

from compute.api import views

PROJECT = r"^orgs/(?P<org>[^/]+)/projects/(?P<project>[0-9a-fA-F-]{36})"
WEBHOOK = PROJECT + r"/webhooks/(?P<webhook>[0-9a-fA-F-]{36})"
JOB = PROJECT + r"/jobs/(?P<job>[0-9a-fA-F-]{36})"

urlpatterns = [
    re_path(PROJECT + r"/webhooks/?$", views.WebhookListView.as_view()),
    re_path(WEBHOOK + r"/?$", views.WebhookDetailView.as_view()),
    re_path(WEBHOOK + r"/deliveries/?$", views.DeliveryListView.as_view()),
    re_path(PROJECT + r"/jobs/?$", views.JobListView.as_view()),
    re_path(JOB + r"/?$", views.JobDetailView.as_view()),
    re_path(JOB + r"/runs/?$", views.JobRunView.as_view()),
]
