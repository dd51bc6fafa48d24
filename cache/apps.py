from django.apps import AppConfig
from django.conf import settings


class CacheConfig(AppConfig):
    name = "cache"

    def ready(self):
        from cache import entities

        # What cache.entities keeps per process: each save or delete of these sets a new epoch.
        entities.watch(settings.AUTH_USER_MODEL, ignore=("last_login",))
        for label in (
            "tenants.Organization",
            "tenants.Membership",
            "tenants.Project",
            "tenants.ProjectKey",
            "datastore.Collection",
            "access.AccessRule",
            "compute.Webhook",
            "functions.Function",
        ):
            entities.watch(label)
