"""Functions: deploy (checked in the sandbox first), configure, roll back, delete, invoke.

A deploy writes an immutable ``FunctionVersion`` named by its content's SHA-256 only after
``deno check`` passed in the supervisor's sandbox; until then, and when it fails, the active
version keeps serving. Once a deploy, a configuration change or a rollback committed, the
supervisor is told the function's new worker and starts it (the next invocation is warm; the
earlier worker is retired). Invocations go to the supervisor (``functions.client``), which runs
the active version in its warm, sandboxed worker; each one leaves an ``Invocation`` row and
gets a token of its own to call the platform as its caller (``functions.tokens``).
"""

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import structlog
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from access.constants import SERVICE_ROLE
from authn.audit import audit_org_write
from functions import client, egress, metrics, selectors, tokens
from functions import constants as c
from functions.constants import ExitReason, Trigger
from functions.models import Function, FunctionVersion, Invocation
from platform_site.errors import unique_violation_is_invalid
from tenants import constants
from tenants.context import TenantContext, tenant_context
from tenants.permissions import require_org_perm

logger = structlog.get_logger(__name__)


class DeployRefused(Exception):
    """``deno check`` refused the source; ``message`` is the compiler's."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FunctionNotFound(Exception):
    """No function of this name in the project, or none of its versions is active."""


FunctionsUnavailable = client.SupervisorUnavailable


# --- validation -------------------------------------------------------------------------------
def _clean_name(name: str) -> None:
    if not re.match(c.NAME_PATTERN, name or ""):
        raise ValidationError(
            {"name": "Lowercase letters, digits and '-', starting with a letter."}
        )


def _clean_source(source: str) -> None:
    if not source or not source.strip():
        raise ValidationError({"source": "The function's source is empty."})
    if len(source.encode()) > c.MAX_SOURCE_BYTES:
        raise ValidationError({"source": f"At most {c.MAX_SOURCE_BYTES} bytes."})


def _clean_env(env: dict) -> None:
    if not isinstance(env, dict) or len(env) > c.MAX_ENV_VARS:
        raise ValidationError({"env": f"An object of at most {c.MAX_ENV_VARS} variables."})
    for name, value in env.items():
        reserved = name in c.RESERVED_ENV_NAMES or name.startswith(c.RESERVED_ENV_PREFIXES)
        if not re.match(c.ENV_NAME_PATTERN, name) or reserved:
            raise ValidationError({"env": f"{name[:64]!r} is not an allowed variable name."})
        if not isinstance(value, str) or len(value) > c.MAX_ENV_VALUE or "\x00" in value:
            raise ValidationError({"env": f"{name}: a string of at most {c.MAX_ENV_VALUE} chars."})


def _clean_timeout(seconds: int) -> None:
    if not 1 <= int(seconds) <= c.MAX_TIMEOUT_SECONDS:
        raise ValidationError({"timeout_seconds": f"From 1 to {c.MAX_TIMEOUT_SECONDS} seconds."})


def _clean_egress(hosts: list) -> None:
    if not isinstance(hosts, list) or len(hosts) > c.MAX_EGRESS_HOSTS:
        raise ValidationError({"egress_hosts": f"A list of at most {c.MAX_EGRESS_HOSTS} hosts."})
    for host in hosts:
        try:
            egress.parse_entry(host if isinstance(host, str) else "")
        except egress.BadEntry as exc:
            raise ValidationError({"egress_hosts": str(exc)}) from exc


def _clean_triggers(events: list) -> None:
    if not isinstance(events, list) or any(e not in c.RECORD_EVENTS for e in events):
        raise ValidationError({"record_events": f"A list of {', '.join(c.RECORD_EVENTS)}."})


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


# --- writes -----------------------------------------------------------------------------------
CONFIG_FIELDS = ("env", "timeout_seconds", "record_events", "record_collection", "egress_hosts")


def _clean_config(fields: dict) -> None:
    if "env" in fields:
        _clean_env(fields["env"])
    if "timeout_seconds" in fields:
        _clean_timeout(fields["timeout_seconds"])
    if "record_events" in fields:
        _clean_triggers(fields["record_events"])
    if "egress_hosts" in fields:
        _clean_egress(fields["egress_hosts"])


def _warm_after_commit(function: Function, version: FunctionVersion) -> None:
    """After commit: the supervisor starts the new worker (and retires the function's earlier
    ones), so the next invocation is not a cold start. Best effort: without the supervisor,
    the first invocation starts it."""
    spec = _worker_spec(function, version)
    key = _worker_key(function, version)

    def warm() -> None:
        try:
            client.put_worker(key, **spec, warm=True)
        except client.SupervisorUnavailable:
            logger.info("function_warm_skipped", function=function.name)

    transaction.on_commit(warm)


@transaction.atomic
def function_deploy(
    *, membership, project, name: str, source: str, **config
) -> tuple[Function, FunctionVersion, bool]:
    """Deploy ``source`` as ``name``'s active version; True when a new version was written.

    The same content as an existing version makes that version active again (no new row).
    """
    require_org_perm(membership, constants.MANAGE_FUNCTIONS)
    _clean_name(name)
    _clean_source(source)
    _clean_config(config)
    digest = source_hash(source)
    function = Function.objects.select_for_update().filter(project=project, name=name).first()
    existing = (
        FunctionVersion.objects.filter(function=function, source_hash=digest).first()
        if function is not None
        else None
    )
    if existing is None:
        ok, message = client.check(source)
        if not ok:
            raise DeployRefused(message or "deno check failed.")
    if function is None:
        with unique_violation_is_invalid("name", "A function with this name already exists."):
            function = Function.objects.create(
                org=membership.org, project=project, name=name, created_by=membership.user
            )
    created = existing is None
    if created:
        number = (function.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = FunctionVersion.objects.create(
            org=membership.org,
            function=function,
            number=number,
            source=source,
            source_hash=digest,
            created_by=membership.user,
        )
    else:
        version = existing
    function.active_version = version
    for name_ in CONFIG_FIELDS:
        if name_ in config:
            setattr(function, name_, config[name_])
    function.save()
    _warm_after_commit(function, version)
    audit_org_write(
        membership=membership,
        action=c.AUDIT_DEPLOY,
        target=function,
        # Names only: a variable's value is a secret and never leaves the function's row.
        metadata={
            "version": version.number,
            "source_hash": digest,
            "new_version": created,
            "env_names": sorted(config["env"]) if "env" in config else None,
        },
    )
    return function, version, created


@transaction.atomic
def function_update(*, membership, function: Function, **fields) -> Function:
    require_org_perm(membership, constants.MANAGE_FUNCTIONS)
    _clean_config(fields)
    for name in CONFIG_FIELDS:
        if name in fields:
            setattr(function, name, fields[name])
    function.save()
    if function.active_version is not None:
        _warm_after_commit(function, function.active_version)
    audit_org_write(
        membership=membership,
        action=c.AUDIT_UPDATE,
        target=function,
        metadata={"fields": sorted(f for f in fields if f in CONFIG_FIELDS)},
    )
    return function


@transaction.atomic
def function_rollback(*, membership, function: Function, number: int) -> Function:
    require_org_perm(membership, constants.MANAGE_FUNCTIONS)
    version = selectors.version_get(function=function, number=number)
    if version is None:
        raise ValidationError({"version": "No version of this number."})
    previous = function.active_version.number if function.active_version else None
    function.active_version = version
    function.save(update_fields=["active_version", "updated_at"])
    _warm_after_commit(function, version)
    audit_org_write(
        membership=membership,
        action=c.AUDIT_ROLLBACK,
        target=function,
        metadata={"from": previous, "to": version.number},
    )
    return function


@transaction.atomic
def function_delete(*, membership, function: Function) -> None:
    require_org_perm(membership, constants.MANAGE_FUNCTIONS)
    audit_org_write(membership=membership, action=c.AUDIT_DELETE, target=function)
    function.delete()


# --- invocation -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """Who invokes a function; sent to it as the ``x-platform-caller`` header (JSON), with
    ``role``: the client role its ``platform.fetch`` calls act as (``tokens.role_of``).

    ``kind``: "developer" (a member, from the API's test route), "service" (the platform
    itself: record triggers, schedules, a secret key), "end_user" (a client app's user) or
    "anon" (a publishable key without a user).
    """

    kind: str
    user_id: int | None = None
    end_user_id: str | None = None
    key_id: str | None = None
    app_roles: tuple[str, ...] = ()
    # The end user's session: its token stops working when the session ends. Never shown.
    session_id: str | None = field(default=None, repr=False)

    @property
    def client_app(self) -> bool:
        """Called through a project key (a client app), not by a member or the platform."""
        return self.kind in ("end_user", "anon") or self.key_id is not None

    def public(self) -> dict:
        data = asdict(self)
        del data["session_id"]
        data["app_roles"] = list(self.app_roles)
        data["role"] = str(tokens.role_of(self))
        return data

    def header(self) -> str:
        return json.dumps(self.public(), separators=(",", ":"))


def caller_of_client(client) -> Caller:
    """The caller of a client-app request (``request.client``, endusers.identity)."""
    key_id = str(client.key.pk) if client.key is not None else None
    if client.end_user_id is not None:
        return Caller(
            kind="end_user",
            end_user_id=str(client.end_user_id),
            key_id=key_id,
            app_roles=tuple(client.app_roles),
            session_id=str(client.session_id) if client.session_id else None,
        )
    return Caller(kind="service" if client.role == SERVICE_ROLE else "anon", key_id=key_id)


@dataclass
class FunctionRequest:
    method: str = "POST"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""


# Never handed to tenant code: the caller's own credentials for the platform (the function
# gets its invocation's token as Authorization instead).
DROPPED_HEADERS = {
    "authorization", "apikey", "cookie", "host", "x-platform-caller", "content-length",
}  # fmt: skip


def _worker_key(function: Function, version: FunctionVersion) -> str:
    """One worker per version and configuration the sandbox is started with."""
    started_with = {"env": function.env, "egress": function.egress_hosts}
    digest = hashlib.sha256(json.dumps(started_with, sort_keys=True).encode()).hexdigest()
    return f"{function.project_id}.{function.pk}.{version.source_hash[:24]}.{digest[:12]}"


def _worker_spec(function: Function, version: FunctionVersion) -> dict:
    return {
        "project": str(function.project_id),
        "function": str(function.pk),
        "source": version.source,
        "env": function.env,
        "egress": function.egress_hosts,
    }


class FunctionResponse:
    """The function's answer: status, headers and its body, streamed (sync or async); the
    invocation's row is written when the response is closed (after the body was read)."""

    def __init__(self, *, answer, response, finish, invocation_id: str, token: str | None):
        self.invocation_id = invocation_id
        self.token = token
        self.status = answer.status
        self.headers = answer.headers
        self.exit_reason = answer.exit_reason
        self._answer, self._response, self._finish = answer, response, finish
        self._closed = False
        self.record: dict | None = None
        self.invocation: Invocation | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._answer.chunks
        finally:
            self.close()

    async def __aiter__(self):
        chunks = iter(self._answer.chunks)
        try:
            while chunk := await sync_to_async(next, thread_sensitive=False)(chunks, None):
                yield chunk
        finally:
            await sync_to_async(self.close)()

    def read(self) -> bytes:
        return b"".join(self)

    def drain(self, cap: int) -> dict:
        """Read a short answer (a failure's) and the supervisor's record of it, writing
        nothing yet: ``close()`` writes the row, after the request's transaction (a 5xx
        rolls that one back)."""
        size = 0
        for chunk in self._answer.chunks:
            size += len(chunk)
            if size > cap:
                break
        self._response.close()
        self.record = client.record(self.invocation_id) or {}
        return self.record

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._response.close()
        tokens.revoke(self.token)
        if self.record is None:
            self.record = client.record(self.invocation_id) or {}
        self.invocation = self._finish(self._answer.exit_reason, self._answer.status, self.record)


def function_invoke(
    *, project, name: str, request_data: FunctionRequest, caller: Caller, trigger=Trigger.HTTP
) -> FunctionResponse:
    """Run the active version of ``name`` with ``request_data`` as ``caller``.

    Raises ``FunctionNotFound`` and ``FunctionsUnavailable``; every answer the supervisor
    gives (the function's own, or a timeout, out of memory, ...) is a ``FunctionResponse``.
    """
    org_id = project.org_id
    if transaction.get_connection().in_atomic_block and not caller.client_app:
        # A developer request's (or a caller's tenant_context) transaction: its context holds,
        # and RLS answers nothing if it is another org's. Saves a savepoint and two context
        # switches on every invocation. (A client app's context sees no functions table.)
        function = selectors.function_get(project=project, name=name)
    else:
        with tenant_context(TenantContext(org_id=org_id)):
            function = selectors.function_get(project=project, name=name)
    if function is None or function.active_version is None:
        raise FunctionNotFound(name)
    version = function.active_version
    key = _worker_key(function, version)
    invocation_id = str(uuid.uuid4())
    token = tokens.mint(project=project, caller=caller, timeout_seconds=function.timeout_seconds)
    headers = {
        k.lower(): v
        for k, v in request_data.headers.items()
        if k.lower() not in DROPPED_HEADERS and not k.lower().startswith("x-fn-")
    }
    headers.update(
        {
            "x-platform-caller": caller.header(),
            "x-platform-trigger": str(trigger),
            "x-fn-invocation": invocation_id,
            "x-fn-timeout": str(function.timeout_seconds),
            "x-fn-method": request_data.method.upper(),
            "x-fn-path": request_data.path or "/",
        }
    )
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if request_data.request_id:
        headers["x-request-id"] = request_data.request_id

    def put_worker() -> None:
        client.put_worker(key, **_worker_spec(function, version))

    def finish(exit_reason: str, status: int, record: dict) -> Invocation:
        exit_reason = record.get("exit_reason", exit_reason)
        if exit_reason not in ExitReason.values:
            exit_reason = ExitReason.CRASHED
        with tenant_context(TenantContext(org_id=org_id)):
            invocation = Invocation.objects.create(
                id=invocation_id,
                org_id=org_id,
                function=function,
                version=version,
                trigger=trigger,
                caller=caller.public(),
                status=record.get("status", status),
                exit_reason=exit_reason,
                duration_ms=record.get("duration_ms"),
                cpu_ms=record.get("cpu_ms"),
                peak_memory_bytes=record.get("peak_memory_bytes"),
                request_id=request_data.request_id[:128],
                stdout=record.get("stdout", ""),
                stderr=record.get("stderr", ""),
            )
        metrics.observe(
            trigger=str(trigger), exit_reason=exit_reason, duration_ms=record.get("duration_ms")
        )
        logger.info(
            "function_invocation",
            function=function.name,
            version=version.number,
            trigger=str(trigger),
            exit_reason=exit_reason,
            status=invocation.status,
            duration_ms=invocation.duration_ms,
        )
        return invocation

    try:
        answer, response = client.invoke(
            key, headers=headers, body=request_data.body, on_unknown=put_worker
        )
    except client.SupervisorUnavailable:
        tokens.revoke(token)
        raise
    return FunctionResponse(
        answer=answer, response=response, finish=finish, invocation_id=invocation_id, token=token
    )


def function_run(
    *, project, name: str, trigger: str, payload: dict, request_id: str = ""
) -> Invocation:
    """An invocation by the platform itself (a record change, a schedule): a JSON POST as the
    service role, read to the end."""
    answer = function_invoke(
        project=project,
        name=name,
        request_data=FunctionRequest(
            headers={"content-type": "application/json"},
            body=json.dumps(payload).encode(),
            request_id=request_id,
        ),
        caller=Caller(kind="service"),
        trigger=trigger,
    )
    answer.read()
    return answer.invocation


def record_functions_queue(
    *, org_id, project_id, collection: str, event: str, payloads: list[dict], request_id: str
) -> int:
    """After record writes committed (one, or a bulk create's): one Celery task per function
    listening to them and per record, the listeners looked up once."""
    from functions.tasks import run_function

    with tenant_context(TenantContext(org_id=org_id)):
        targets = selectors.functions_for_change(
            project_id=project_id, collection=collection, event=event
        )
    for function in targets:
        for payload in payloads:
            run_function.delay(
                str(function.pk), str(org_id), Trigger.RECORD, payload, request_id=request_id
            )
    return len(targets) * len(payloads)


def function_run_by_id(
    *, function_id, org_id, trigger: str, payload: dict, request_id: str = ""
) -> Invocation | None:
    """``function_run`` for a task that has only ids; None when the function is gone."""
    with tenant_context(TenantContext(org_id=org_id)):
        function = selectors.function_by_id(function_id=function_id)
    if function is None:
        return None
    try:
        return function_run(
            project=function.project,
            name=function.name,
            trigger=trigger,
            payload=payload,
            request_id=request_id,
        )
    except FunctionNotFound:
        return None  # its active version was removed meanwhile
