"""Reads for orgs, members and projects. Row-level security scopes every query; the explicit
org filters here help the planner and make intent readable, they are not the guard."""

import hashlib
from datetime import timedelta
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from cache import entities
from tenants import replicas
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tenants.models import Invitation, Membership, Organization, Project, ProjectKey


def _org_ref_q(ref: str, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}slug": ref})
    try:
        q |= Q(**{f"{prefix}id": UUID(ref)})
    except ValueError:
        pass
    return q


def membership_for(*, user, org_ref: str) -> Membership | None:
    """The user's membership in the org named by slug or id, or None (not a member / no org)."""
    if not user.is_authenticated or len(org_ref) > 63:
        return None
    return (
        Membership.objects.select_related("org")
        .filter(_org_ref_q(org_ref, "org__"), user=user)
        .first()
    )


def membership_cached(
    *, user, org_ref: str, context: TenantContext, using: str = "default"
) -> Membership | None:
    """``membership_for`` from this process's copy when the epoch allows (a role change, a
    removal or an org's rename sets a new one). On a miss it sets ``context``, a context of
    ``user``, in the current transaction (on ``using``: the request's database) and reads;
    the caller sets its own context after."""
    if not user.is_authenticated or len(org_ref) > 63:
        return None

    def load():
        set_tenant_context(context, using=using)
        membership = membership_for(user=user, org_ref=org_ref)
        return entities.snapshot(membership, related=("org",)) if membership else None

    key = ("membership", user.pk, org_ref)
    return entities.restore(entities.cached(key, load, keep=lambda snap: snap is not None))


def org_by_ref(*, org_ref: str) -> Organization | None:
    """The org named by slug or id, if the current RLS context can see it."""
    if len(org_ref) > 63:
        return None
    return Organization.objects.filter(_org_ref_q(org_ref)).first()


def org_list_for_user(*, user) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name")


def membership_list_for_user(*, user) -> QuerySet[Membership]:
    """The user's memberships in every org, each with its org (one query), by org name."""
    return Membership.objects.filter(user=user).select_related("org").order_by("org__name")


def member_list(*, org: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(org=org).select_related("user").order_by("created_at")


def member_get(*, org: Organization, user_id: int) -> Membership | None:
    return Membership.objects.filter(org=org, user_id=user_id).select_related("user").first()


def project_list(*, org: Organization) -> QuerySet[Project]:
    return Project.objects.filter(org=org).order_by("created_at")


def invitation_list(*, org: Organization) -> QuerySet[Invitation]:
    """Invitations not accepted yet (expired ones included, so they can be revoked)."""
    return Invitation.objects.filter(org=org, accepted_at__isnull=True).order_by("-created_at")


KEY_TOUCH_INTERVAL = timedelta(minutes=1)
MAX_KEY_LENGTH = 200


def api_key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_list(*, project) -> QuerySet[ProjectKey]:
    return ProjectKey.objects.filter(org_id=project.org_id, project=project).order_by("-created_at")


def api_key_resolve(raw: str) -> ProjectKey | None:
    """The live key ``raw`` is, with its project, or None.

    Read by the hash of the key the caller holds, under a platform context (the caller has no
    tenant yet, and the table holds only hashes), and kept per process for the current epoch
    (``cache.entities``): a revocation or rotation sets a new one, so a revoked key is refused
    on the next request everywhere; without Redis every request reads PostgreSQL.
    ``last_used_at`` moves at most once a minute per process.
    """
    if not raw or len(raw) > MAX_KEY_LENGTH:
        return None
    key_hash = api_key_hash(raw)

    def load():
        with tenant_context(TenantContext(platform_admin=True)):
            key = (
                ProjectKey.objects.select_related("project")
                .filter(key_hash=key_hash, revoked_at__isnull=True)
                .first()
            )
        return entities.snapshot(key, related=("project",)) if key is not None else None

    cache_key = ("api_key", key_hash)
    key = entities.restore(entities.cached(cache_key, load, keep=lambda snap: snap is not None))
    now = timezone.now()
    stale = now - KEY_TOUCH_INTERVAL
    touch = key is not None and (key.last_used_at is None or key.last_used_at < stale)
    if touch and not replicas.primary_known_down():
        # Bookkeeping: skipped while the primary is unreachable (the request may be a read
        # the replica answers).
        with replicas.unless_primary_down():
            with tenant_context(TenantContext(platform_admin=True), using="default"):
                ProjectKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        entities.replace(cache_key, lambda snap: entities.snapshot(key, related=("project",)))
    return key


def project_for_invocation(*, project_id, key_id=None) -> Project | None:
    """The project a running function's token names, under a platform context as
    ``api_key_resolve``; with the key its caller used, only while that key is live."""
    with tenant_context(TenantContext(platform_admin=True)):
        if key_id is None:
            return Project.objects.filter(pk=project_id).first()
        key = (
            ProjectKey.objects.select_related("project")
            .filter(pk=key_id, project_id=project_id, revoked_at__isnull=True)
            .first()
        )
    return key.project if key is not None else None
