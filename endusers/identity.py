"""Who a client-app request is: the project (from its API key), the role, the end user.

Client apps call the client routes (``/client/v1/...``, also as ``/p/<project ref>/...``)
with the project's key in the ``apikey`` header, or as ``Authorization: Bearer <key>`` when
nobody is signed in. With a signed-in end user, ``Authorization: Bearer <access token>``
carries the end user's token of that project. The result decides the transaction's tenant
context (``tenants.middleware``): ``anon`` for the publishable key alone, ``authenticated``
for an end user, ``service_role`` for the secret key (unless it carries an end user's token,
which then acts as that end user).
"""

import re
from dataclasses import dataclass, field
from uuid import UUID

from access.constants import SERVICE_ROLE, ClientRole
from authn.middleware import bearer_token
from authn.services.session_check import session_is_live
from endusers import tokens
from tenants import selectors as tenant_selectors
from tenants.context import TenantContext
from tenants.models import ProjectKey

CLIENT_PREFIXES = (
    "/client/v1/",
    # Supabase's paths (compat): the same identity, other wire formats.
    "/auth/v1/",
    "/rest/v1/",
    "/storage/v1/object/",
    "/storage/v1/bucket",
    "/functions/v1/",
)
# Where the URL's own token (a signed URL) or the bucket's public flag is what authorizes a
# request, so no key is required (compat.storage checks the token or the flag); a key sent
# anyway is checked as everywhere.
KEYLESS = {
    "GET": ("/storage/v1/object/sign/", "/storage/v1/object/public/"),
    "HEAD": ("/storage/v1/object/sign/", "/storage/v1/object/public/"),
    "PUT": ("/storage/v1/object/upload/sign/",),
}
# "/p/<ref>/<rest>": the same routes with the project named in the path.
REF_PATH = re.compile(r"\A/p/(?P<ref>[a-z]{20})(?P<rest>/.*)\Z")
KEY_PREFIXES = ("sb_publishable_", "sb_secret_")
# A running function's token (functions.tokens): its invocation's caller, until it ends.
INVOCATION_TOKEN_PREFIX = "fninv_"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class ClientIdentity:
    project: object
    key: ProjectKey
    role: str
    end_user_id: UUID | None = None
    session_id: UUID | None = None
    app_roles: tuple[str, ...] = ()
    claims: dict = field(default_factory=dict, compare=False)

    @property
    def org_id(self):
        return self.project.org_id

    @property
    def project_id(self):
        return self.project.id

    def tenant_context(self) -> TenantContext:
        return TenantContext(
            org_id=self.project.org_id,
            project_id=self.project.id,
            end_user_id=self.end_user_id,
            client_role=self.role,
            end_user_roles=self.app_roles,
        )


class ClientAuthFailed(Exception):
    """Refused with 401: ``code`` and a message that says what to send instead."""

    def __init__(self, code: str, message: str, project=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.project = project  # the key's project, when the key was valid (its request log)


def split_ref(path: str) -> tuple[str | None, str]:
    """(project ref, the path without ``/p/<ref>``) for a ref path; (None, path) otherwise."""
    match = REF_PATH.match(path)
    if match is None:
        return None, path
    return match["ref"], match["rest"]


def is_client_path(path: str) -> bool:
    return path.startswith(CLIENT_PREFIXES)


def is_keyless(method: str, path: str) -> bool:
    return path.startswith(KEYLESS.get(method, ()))


def _invocation_identity(token: str, *, ref: str | None) -> ClientIdentity:
    from functions import tokens  # minted by the functions app; read here like a key

    claims = tokens.claims(token)
    project = claims and tenant_selectors.project_for_invocation(
        project_id=claims["project_id"], key_id=claims["key_id"]
    )
    end_user_id = claims and claims["end_user_id"]
    if (
        not project
        or (ref is not None and project.ref != ref)
        or (
            end_user_id
            and not session_is_live(
                session_id=claims["session_id"], user_id=end_user_id, project_id=project.id
            )
        )
    ):
        raise ClientAuthFailed("invalid_token", "Invalid or expired invocation token.")
    return ClientIdentity(
        project=project,
        key=None,
        role=claims["role"],
        end_user_id=UUID(end_user_id) if end_user_id else None,
        session_id=UUID(claims["session_id"]) if claims["session_id"] else None,
        app_roles=tuple(claims["app_roles"]),
    )


def identify(meta, *, ref: str | None = None) -> ClientIdentity:
    """The client identity of a request's headers (``request.META`` or a websocket scope's
    headers in the same form), or ``ClientAuthFailed``."""
    raw_key = (meta.get("HTTP_APIKEY") or "").strip() or None
    bearer = bearer_token(meta) or None
    if bearer is not None and bearer.startswith(INVOCATION_TOKEN_PREFIX):
        return _invocation_identity(bearer, ref=ref)
    if raw_key is None and bearer is not None and bearer.startswith(KEY_PREFIXES):
        raw_key, bearer = bearer, None
    if raw_key is None:
        raise ClientAuthFailed(
            "api_key_required", "Send the project's publishable key in the apikey header."
        )
    if bearer == raw_key:
        bearer = None
    key = tenant_selectors.api_key_resolve(raw_key)
    if key is None:
        raise ClientAuthFailed("invalid_api_key", "Invalid or revoked API key.")
    project = key.project
    if ref is not None and project.ref != ref:
        raise ClientAuthFailed("invalid_api_key", "This API key is not a key of that project.")
    if key.kind == ProjectKey.Kind.SECRET and meta.get("HTTP_ORIGIN"):
        raise ClientAuthFailed(
            "secret_key_in_browser",
            "A secret key must never be used from a browser: it bypasses the access rules. "
            "Use the project's publishable key in client code, the secret key only on servers.",
        )
    if bearer is None:
        role = SERVICE_ROLE if key.kind == ProjectKey.Kind.SECRET else ClientRole.ANON
        return ClientIdentity(project=project, key=key, role=role)
    try:
        claims = tokens.decode(bearer, project=project)
    except tokens.InvalidToken:
        raise ClientAuthFailed(
            "invalid_token", "Invalid or expired access token for this project.", project
        ) from None
    if not session_is_live(
        session_id=claims.session_id, user_id=str(claims.end_user_id), project_id=project.id
    ):
        # A genuine token of an ended session (signed out, revoked, banned): its own code, so
        # a client can tell "sign in again" from a forged token (GoTrue: session_not_found).
        raise ClientAuthFailed("session_ended", "This session has ended: sign in again.", project)
    return ClientIdentity(
        project=project,
        key=key,
        role=ClientRole.AUTHENTICATED,
        end_user_id=claims.end_user_id,
        session_id=claims.session_id,
        app_roles=claims.app_roles,
        claims=claims.raw,
    )
