"""The application database role: can read and write rows, cannot bypass row-level security.

The migration creates it (when the owner may create roles; otherwise a DBA creates it with
the same attributes); after every ``migrate`` its table grants are refreshed, since new
tables appear with each migration.
"""

from django.conf import settings
from django.db import connections
from psycopg import sql

UNSAFE_ATTRIBUTES = ("rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb")
# Tables only the owner connection touches; the app role gets no privilege on them.
OWNER_ONLY_TABLES: set[str] = set()


def owner_only(*tables: str) -> None:
    """Keep ``tables`` out of the app role's grants (call from an ``AppConfig.ready``)."""
    OWNER_ONLY_TABLES.update(tables)


class UnsafeAppRole(RuntimeError):
    pass


def ensure_app_role(connection) -> None:
    name = settings.DATABASE_APP_USER
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(UNSAFE_ATTRIBUTES)} FROM pg_roles WHERE rolname = %s", [name]
        )
        row = cursor.fetchone()
        if row is None:
            statement = sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
                "NOINHERIT PASSWORD {}"
            ).format(sql.Identifier(name), sql.Literal(settings.DATABASE_APP_PASSWORD or None))
            cursor.execute(statement.as_string(connection.connection))
        elif any(row):
            flags = [attr for attr, on in zip(UNSAFE_ATTRIBUTES, row, strict=True) if on]
            raise UnsafeAppRole(f"Role {name!r} must not have {', '.join(flags)}.")


def grant_app_role(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: give the app role DML on every table, read-only on migration history,
    nothing on the owner-only tables."""
    if sender.name != "tenants" or using != "owner":
        return
    role = sql.Identifier(settings.DATABASE_APP_USER)
    connection = connections[using]
    statements = [
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {role}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(sql.SQL(statement).format(role=role).as_string(connection.connection))
        for table in sorted(OWNER_ONLY_TABLES):
            statement = sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), role)
            cursor.execute(statement.as_string(connection.connection))
