"""Helpers for the auth tests: login and bearer shortcuts."""

from tests.factories import PASSWORD  # noqa: F401  (re-exported for the auth tests)
from tests.servers import OwnRedis, free_port, wait_for_port  # noqa: F401


def login(client, email: str, password: str = PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/login/", {"email": email, "password": password}, format="json", **extra
    )


def bearer(client, access: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def as_platform_admin() -> None:
    """Let the test's own queries see every row (inside the test's transaction)."""
    from tenants.context import TenantContext, set_tenant_context

    set_tenant_context(TenantContext(platform_admin=True))
