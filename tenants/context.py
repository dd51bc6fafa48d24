"""The per-transaction tenant context that row-level security policies read.

Values are set with ``set_config(name, value, true)``: they vanish when the transaction
ends, so a pooled connection handed to the next request carries nothing over.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from django.db import connections, transaction

from tenants import replicas


class NoTransaction(RuntimeError):
    """The context was set outside a transaction, where it would vanish at once."""


@dataclass(frozen=True)
class TenantContext:
    """Who the transaction acts for.

    A developer (``user_id`` with a membership ``role`` in ``org_id``) or platform staff; or a
    client app of one project: ``client_role`` is ``anon``, ``authenticated`` (an end user,
    ``end_user_id``, holding ``end_user_roles`` from its ``app_metadata``) or
    ``service_role`` (the project's secret key). With a client role set, PostgreSQL's
    ``app_current_org()`` is NULL, so no developer policy opens to a client app; the client
    policies read ``app_current_project()`` and the project's access rules instead.
    """

    org_id: UUID | None = None
    user_id: int | None = None
    role: str | None = None
    platform_admin: bool = False
    project_id: UUID | None = None
    end_user_id: UUID | None = None
    client_role: str | None = None
    end_user_roles: tuple[str, ...] = ()


EMPTY = TenantContext()
SETTINGS = (
    "org_id",
    "user_id",
    "role",
    "platform_admin",
    "project_id",
    "end_user_id",
    "client_role",
    "end_user_roles",
)


def _setting_values(context: TenantContext) -> list[str]:
    return [
        str(context.org_id) if context.org_id else "",
        str(context.user_id) if context.user_id else "",
        context.role or "",
        "on" if context.platform_admin else "",
        str(context.project_id) if context.project_id else "",
        str(context.end_user_id) if context.end_user_id else "",
        context.client_role or "",
        # A PostgreSQL text[] literal; role names are checked to be plain words on write.
        "{" + ",".join(context.end_user_roles) + "}" if context.end_user_roles else "",
    ]


_SET_SQL = "SELECT " + ", ".join(f"set_config('app.{name}', %s, true)" for name in SETTINGS)
_GET_SQL = "SELECT " + ", ".join(f"current_setting('app.{name}', true)" for name in SETTINGS)


def set_tenant_context(context: TenantContext, *, using: str = "default") -> None:
    connection = connections[using]
    if not connection.in_atomic_block:
        raise NoTransaction("The tenant context must be set inside transaction.atomic().")
    with connection.cursor() as cursor:
        cursor.execute(_SET_SQL, _setting_values(context))


def clear_tenant_context(*, using: str = "default") -> None:
    set_tenant_context(EMPTY, using=using)


def current_tenant_context(*, using: str = "default") -> TenantContext:
    """The context the current transaction holds, as PostgreSQL has it."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return EMPTY
    with connection.cursor() as cursor:
        cursor.execute(_GET_SQL)
        org_id, user_id, role, admin, project_id, end_user_id, client_role, roles = (
            cursor.fetchone()
        )
    return TenantContext(
        org_id=UUID(org_id) if org_id else None,
        user_id=int(user_id) if user_id else None,
        role=role or None,
        platform_admin=admin == "on",
        project_id=UUID(project_id) if project_id else None,
        end_user_id=UUID(end_user_id) if end_user_id else None,
        client_role=client_role or None,
        end_user_roles=tuple(r for r in (roles or "").strip("{}").split(",") if r),
    )


@contextmanager
def tenant_context(context: TenantContext, *, using: str | None = None) -> Iterator[None]:
    """Run a block in one transaction with ``context`` set (tasks, commands, Studio, services
    that act as someone else than the request).

    Inside another transaction the block is a savepoint, and the enclosing context comes back
    when it ends: a request that calls such a service goes on in its own org. If the block
    raises, rolling back undoes its settings along with its writes.
    """
    using = using or replicas.context_alias()  # the primary, but in a replica fallback
    connection = connections[using]
    enclosing = current_tenant_context(using=using) if connection.in_atomic_block else None
    with transaction.atomic(using=using), replicas.reading_from(using):
        set_tenant_context(context, using=using)
        yield
        # At the end of an outermost block the settings end with the transaction.
        if enclosing is not None and not connection.needs_rollback:
            set_tenant_context(enclosing, using=using)
