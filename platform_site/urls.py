from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

handler400 = "platform_site.errors.handler400"
handler403 = "platform_site.errors.handler403"
handler404 = "platform_site.errors.handler404"
handler500 = "platform_site.errors.handler500"

api_v1 = [
    path("", include("authn.api.urls")),
    path("", include("tenants.api.urls")),
    path("", include("datastore.api.urls")),
    path("", include("compute.api.urls")),
    path("", include("functions.api.urls")),
    path("", include("storage.api.urls")),
    path("", include("observability.api.urls")),
    path("", include("cache.api.urls")),
    path("", include("access.api.urls")),
    path("", include("endusers.api.developer_urls")),
]

# Client apps' routes: the project is named by the API key (or also as /p/<ref>/client/v1/...,
# see endusers.middleware), the caller is anon, an end user, or the project's secret key.
client_v1 = [
    path("", include("endusers.api.urls")),
    path("", include("datastore.api.client_urls")),
    path("", include("storage.api.client_urls")),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("client/v1/", include((client_v1, "client"), namespace="client")),
    path("storage/v1/", include("storage.urls")),
    path("", include("compat.urls")),
    path("functions/v1/", include("functions.client_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("observability.urls")),
    path("studio/", include("studio.urls")),  # the project console's data pages
    path("studio/", admin.site.urls),
]
