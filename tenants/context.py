"""The per-transaction tenant context that row-level security policies read.

Values are set with ``set_config(name, value, true)``: they vanish when the transaction
ends, so a pooled connection handed to the next request carries nothing over.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from django.db import connections, transaction


class NoTransaction(RuntimeError):
    """The context was set outside a transaction, where it would vanish at once."""


@dataclass(frozen=True)
class TenantContext:
    org_id: UUID | None = None
    user_id: int | None = None
    role: str | None = None
    platform_admin: bool = False


EMPTY = TenantContext()


def set_tenant_context(context: TenantContext, *, using: str = "default") -> None:
    connection = connections[using]
    if not connection.in_atomic_block:
        raise NoTransaction("The tenant context must be set inside transaction.atomic().")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.org_id', %s, true), set_config('app.user_id', %s, true),"
            " set_config('app.role', %s, true), set_config('app.platform_admin', %s, true)",
            [
                str(context.org_id) if context.org_id else "",
                str(context.user_id) if context.user_id else "",
                context.role or "",
                "on" if context.platform_admin else "",
            ],
        )


def clear_tenant_context(*, using: str = "default") -> None:
    set_tenant_context(EMPTY, using=using)


def current_tenant_context(*, using: str = "default") -> TenantContext:
    """The context the current transaction holds, as PostgreSQL has it."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return EMPTY
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.org_id', true), current_setting('app.user_id', true),"
            " current_setting('app.role', true), current_setting('app.platform_admin', true)"
        )
        org_id, user_id, role, platform_admin = cursor.fetchone()
    return TenantContext(
        org_id=UUID(org_id) if org_id else None,
        user_id=int(user_id) if user_id else None,
        role=role or None,
        platform_admin=platform_admin == "on",
    )


@contextmanager
def tenant_context(context: TenantContext, *, using: str = "default") -> Iterator[None]:
    """Run a block in one transaction with ``context`` set (tasks, commands, Studio, services
    that act as someone else than the request).

    Inside another transaction the block is a savepoint, and the enclosing context comes back
    when it ends: a request that calls such a service goes on in its own org. If the block
    raises, rolling back undoes its settings along with its writes.
    """
    connection = connections[using]
    enclosing = current_tenant_context(using=using) if connection.in_atomic_block else None
    with transaction.atomic(using=using):
        set_tenant_context(context, using=using)
        yield
        # At the end of an outermost block the settings end with the transaction.
        if enclosing is not None and not connection.needs_rollback:
            set_tenant_context(enclosing, using=using)
