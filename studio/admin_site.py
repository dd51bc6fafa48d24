"""Django admin, with the Studio as its default site (so ``admin.site`` is the Studio)."""

from django.contrib.admin.apps import AdminConfig


class StudioAdminConfig(AdminConfig):
    default_site = "studio.sites.StudioAdminSite"
