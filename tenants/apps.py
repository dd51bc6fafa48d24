from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from tenants.roles import grant_app_role

        post_migrate.connect(grant_app_role, dispatch_uid="tenants.grant_app_role")
