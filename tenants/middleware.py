"""Opens the request's transaction and sets the tenant context that RLS policies read.

Runs after authentication. Client-app routes get their client's context (project, role, end
user: ``endusers.identity``) and never an org member's. Elsewhere the org comes from the URL
(``/api/v1/orgs/<org>/...``) or, for routes without one, from the token's ``org`` claim;
either way the user's membership is checked first, and a non-member gets a 404 before any
tenant query runs.

The transaction is on ``request.db_alias``: the primary, or the read replica for a read that
tolerates its lag (``tenants.replicas.choose``); then a write the request makes anyway opens
the primary's transaction with the same context (``replicas.PrimaryOnDemand``). After every
write request its caller's reads stay on the primary for a while (``replicas.mark_write``).
"""

from django.db import transaction
from django.http import Http404

from platform_site.errors import error_response, is_api_request
from tenants import replicas, selectors
from tenants.context import TenantContext, clear_tenant_context, set_tenant_context

STUDIO_PREFIX = "/studio/"


def tenant_exempt(view):
    """Mark a view that must answer without a database transaction (liveness, readiness)."""
    view.tenant_exempt = True
    return view


class TenantContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.org = None
        request.db_alias = replicas.PRIMARY
        request.tenant_atomic = None
        request.tenant_nested = False
        request.primary_on_demand = None
        try:
            response = self.get_response(request)
        except BaseException as exc:
            exc_info = (type(exc), exc, exc.__traceback__)
            try:
                if request.tenant_atomic is not None:
                    request.tenant_atomic.__exit__(*exc_info)
            finally:
                if request.primary_on_demand is not None:
                    request.primary_on_demand.finish(failed=True, exc_info=exc_info)
            raise
        if request.tenant_atomic is not None:
            alias = request.db_alias
            failed = response.status_code >= 500
            try:
                if failed:
                    transaction.set_rollback(True, using=alias)
                elif request.tenant_nested and not transaction.get_connection(alias).needs_rollback:
                    # Inside an enclosing transaction (tests, a caller's atomic block) the
                    # context would outlive the request; otherwise it ends with the commit
                    # just below.
                    clear_tenant_context(using=alias)
                request.tenant_atomic.__exit__(None, None, None)
            finally:
                # Always: the primary's wrapper must not outlive the request on this thread.
                if request.primary_on_demand is not None:
                    request.primary_on_demand.finish(failed=failed)
        replicas.mark_write(request, response)
        return response

    def _set_context(self, request, context: TenantContext) -> None:
        set_tenant_context(context, using=request.db_alias)
        if request.primary_on_demand is not None:
            request.primary_on_demand.context = context

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "tenant_exempt", False):
            return None
        # The transaction opens once the view is known and closes in __call__ with the
        # response, so the context below holds for everything the view does.
        alias = request.db_alias = replicas.choose(request, view_func)
        request.tenant_nested = transaction.get_connection(alias).in_atomic_block
        atomic = transaction.atomic(using=alias)
        atomic.__enter__()  # an unreachable database raises here: no transaction to end
        request.tenant_atomic = atomic
        if alias != replicas.PRIMARY:
            request.primary_on_demand = replicas.PrimaryOnDemand(TenantContext()).install()
        client = getattr(request, "client", None)
        if client is not None:
            # A client app of one project (endusers.middleware): its context, nothing else.
            self._set_context(request, client.tenant_context())
            return None
        if getattr(request, "client_route", False):
            return None  # a client route that identifies no client: no tenant at all
        user = request.user
        user_id = user.pk if user.is_authenticated else None
        # Platform staff see every org in the Studio; nowhere else, and nobody else.
        platform_admin = bool(user_id and user.is_staff and request.path.startswith(STUDIO_PREFIX))
        base = TenantContext(user_id=user_id, platform_admin=platform_admin)

        org_ref = view_kwargs.get("org")
        from_url = org_ref is not None
        if not from_url and getattr(request, "auth_token", None) is not None:
            org_ref = request.auth_token.get("org")
        if org_ref is None:
            self._set_context(request, base)
            return None
        # A known membership costs no query: the org's context is the transaction's only one.
        membership = selectors.membership_cached(
            user=user, org_ref=str(org_ref), context=base, using=alias
        )
        if membership is None:
            self._set_context(request, base)
        if membership is None and platform_admin and from_url:
            org = selectors.org_by_ref(org_ref=str(org_ref))
            if org is None:
                raise Http404("No such organization.")
            request.org = org
            self._set_context(
                request, TenantContext(org_id=org.id, user_id=user_id, platform_admin=True)
            )
            return None
        if membership is None:
            if not from_url:
                return None  # a stale token org claim only loses its default org
            if not user.is_authenticated:
                if not is_api_request(request):
                    return None  # Studio views send anonymous users to their login page
                return error_response(
                    request,
                    401,
                    "not_authenticated",
                    "Authentication credentials were not provided.",
                )
            raise Http404("No such organization.")
        request.membership = membership
        request.org = membership.org
        self._set_context(
            request,
            TenantContext(
                org_id=membership.org_id,
                user_id=user_id,
                role=membership.role,
                platform_admin=platform_admin,
            ),
        )
        return None
