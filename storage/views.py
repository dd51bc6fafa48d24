"""Object URLs that need no API token: signed URLs (any bucket, until they expire) and plain
URLs of public buckets. Each sets the tenant context of the object's org itself."""

import time

from django.core import signing
from django.http import Http404
from django.views.decorators.http import require_GET

from platform_site.errors import error_response
from storage import delivery, selectors, services
from tenants.context import TenantContext, tenant_context
from tenants.middleware import tenant_exempt


class BadToken(Exception):
    """A forged or garbled token, or one whose object is gone."""


def signed_object(token: str):
    """The object a signed token opens, and the Cache-Control to serve it with; raises
    ``services.SignatureExpired`` or ``BadToken``."""
    try:
        target = services.read_signed_token(token)
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadToken from exc
    with tenant_context(TenantContext(org_id=target.org_id)):
        obj = selectors.object_by_id(object_id=target.object_id)
    if obj is None:
        raise BadToken
    # A browser may keep it a minute, never past the URL's expiry.
    max_age = max(0, min(60, target.expires_at - int(time.time())))
    return obj, f"private, max-age={max_age}"


@tenant_exempt
@require_GET
def signed(request, token: str):
    try:
        obj, cache_control = signed_object(token)
    except services.SignatureExpired:
        return error_response(request, 403, "url_expired", "This signed URL has expired.")
    except BadToken as exc:
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
