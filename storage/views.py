"""Object URLs that need no API token: signed URLs (any bucket, until they expire) and plain
URLs of public buckets. Each sets the tenant context of the object's org itself."""

from django.http import Http404
from django.views.decorators.http import require_GET

from platform_site.errors import error_response
from storage import delivery, selectors, services
from tenants.context import TenantContext, tenant_context
from tenants.middleware import tenant_exempt


@tenant_exempt
@require_GET
def signed(request, token: str):
    try:
        obj, cache_control = services.signed_object(token)
    except services.SignatureExpired:
        return error_response(request, 403, "url_expired", "This signed URL has expired.")
    except services.BadToken as exc:
        raise Http404 from exc
    return delivery.serve(request, obj, cache_control=cache_control)


@tenant_exempt
@require_GET
def public(request, org_id, bucket_id, key: str):
    with tenant_context(TenantContext(org_id=org_id)):
        obj = selectors.object_by_id_in_public_bucket(bucket_id=bucket_id, key=key)
        if obj is None:
            raise Http404
        max_age = services.public_cache_seconds()
        return delivery.serve(request, obj, cache_control=f"public, max-age={max_age}")
