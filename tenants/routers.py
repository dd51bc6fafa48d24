"""Only the owner connection runs migrations; everything else uses the app role."""


class OwnerMigratesRouter:
    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == "owner"
