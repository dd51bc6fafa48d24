"""The platform's URLs plus one org-scoped view that always fails (error tracking tests)."""

from django.urls import path

from platform_site.urls import urlpatterns as platform_urlpatterns


def boom(request, org):
    raise ValueError("the view failed")


handler500 = "platform_site.errors.handler500"
urlpatterns = [path("api/v1/orgs/<org>/boom", boom), *platform_urlpatterns]
