from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "authn"
    verbose_name = "Authentication"

    def ready(self) -> None:
        from authn import schema  # noqa: F401  (registers the OpenAPI extension)
