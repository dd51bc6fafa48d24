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


@contextmanager
def tenant_context(context: TenantContext, *, using: str = "default") -> Iterator[None]:
    """Run a block in one transaction with ``context`` set (for tasks, commands, Studio)."""
    with transaction.atomic(using=using):
        set_tenant_context(context, using=using)
        try:
            yield
        finally:
            if not connections[using].needs_rollback:
                clear_tenant_context(using=using)
