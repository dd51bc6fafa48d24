from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from platform_site.celery import ensure_periodic_tasks
        from tenants.roles import grant_app_role

        post_migrate.connect(grant_app_role, dispatch_uid="tenants.grant_app_role")
        # Once per migrate (tenants' own signal), after every app's tables exist.
        post_migrate.connect(
            ensure_periodic_tasks, sender=self, dispatch_uid="platform.periodic_tasks"
        )
