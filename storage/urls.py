from django.urls import path

from storage import views

urlpatterns = [
    path("o/<str:token>", views.signed, name="storage-signed"),
    path("public/<uuid:org_id>/<uuid:bucket_id>/<path:key>", views.public, name="storage-public"),
]
