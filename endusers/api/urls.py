from django.urls import path

from endusers.api import views

urlpatterns = [
    path("project/", views.ClientProjectView.as_view(), name="client-project"),
]
