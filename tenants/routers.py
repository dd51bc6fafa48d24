"""Database routers: only the owner connection runs migrations; reads of a request routed to
the replica go there (``tenants.replicas``), every write goes to the primary."""

from tenants import replicas


class OwnerMigratesRouter:
    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == "owner"


class ReplicaRouter:
    """Inside a request routed to the replica (``replicas.read_alias()``) reads go there;
    writes always go to the primary: an object read from the replica saves to the primary, and
    querysets marked for write (``select_for_update``, ``get_or_create``) lock and write there.
    Outside such a request the router says nothing and Django decides as before."""

    def db_for_read(self, model, **hints) -> str | None:
        if replicas.read_alias() != replicas.REPLICA or _elsewhere(hints):
            return None  # Django's own choice: the instance's database, else the primary
        return replicas.REPLICA

    def db_for_write(self, model, **hints) -> str | None:
        instance = hints.get("instance")
        if instance is not None and instance._state.db == replicas.REPLICA:
            return replicas.PRIMARY
        return None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The replica is a copy of the primary: their rows may relate.
        same = {replicas.PRIMARY, replicas.REPLICA}
        return True if {obj1._state.db, obj2._state.db} <= same else None


def _elsewhere(hints) -> bool:
    """A read for an instance of another database (the owner connection's)."""
    instance = hints.get("instance")
    db = getattr(getattr(instance, "_state", None), "db", None)
    return db is not None and db not in (replicas.PRIMARY, replicas.REPLICA)
