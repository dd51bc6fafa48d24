from django.apps import AppConfig


class DatastoreConfig(AppConfig):
    name = "datastore"
    verbose_name = "Data"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from datastore.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, dispatch_uid="datastore.ensure_schedules")
