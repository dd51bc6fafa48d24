"""Serving object bytes the way a CDN edge expects, so that a tenant's file can never act on
the platform's origin.

* Conditional requests go through Django's evaluation (``platform_site.conditional``): 304 for
  a matching If-None-Match (weak comparison, ``*``, lists) or If-Modified-Since.
* One ``Range`` -> 206 (416 when unsatisfiable), unless If-Range names another version.
* Cache headers say who may cache (chosen by the view: shared caches for public buckets, the
  browser only for the rest).
* Every response is ``Content-Security-Policy: sandbox`` (no script runs, the document has no
  origin to act on even when rendered) and ``X-Content-Type-Options: nosniff`` (the browser uses
  the stored type, never a guess).
* ``Content-Disposition: inline`` only for types a browser shows without running anything;
  HTML, XHTML, SVG, XML, JavaScript and every other type download as attachments unless the
  bucket opts in (``inline_delivery``) and the request came to ``STORAGE_DELIVERY_ORIGIN``.
"""

import re

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from platform_site.conditional import conditional_response
from platform_site.errors import error_response
from storage.models import StoredObject

_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # longer numbers: not a range we serve
SANDBOX_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
INERT_TYPES = frozenset(
    {
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
        "image/x-icon", "image/vnd.microsoft.icon", "text/plain", "text/csv", "application/json",
    }
)  # fmt: skip
INERT_PREFIXES = ("audio/", "video/")
# Where platform_site/urls.py mounts storage.urls: the only paths the delivery origin answers.
DELIVERY_PATH_PREFIX = "/storage/v1/"


def on_delivery_origin(request) -> bool:
    origin = settings.STORAGE_DELIVERY_ORIGIN
    return bool(origin) and request.get_host().lower() == origin.split("://", 1)[1]


def object_url(request, path: str) -> str:
    """The absolute URL of an object path: on the delivery origin when there is one."""
    origin = settings.STORAGE_DELIVERY_ORIGIN
    return origin + path if origin else request.build_absolute_uri(path)


def serve(request, obj: StoredObject, *, cache_control: str) -> HttpResponse:
    etag = f'"{obj.sha256}"'
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(obj.updated_at.timestamp()),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        **SANDBOX_HEADERS,
    }
    conditional = conditional_response(
        request, etag=etag, last_modified=obj.updated_at, headers=headers
    )
    if conditional is not None:
        return conditional
    byte_range = None
    if _if_range_holds(request, etag, obj):
        byte_range = _parse_range(request.headers.get("Range", ""), obj.size)
    if byte_range == "invalid":
        return error_response(
            request, 416, "range_not_satisfiable", f"The object has {obj.size} bytes.",
            headers={"Content-Range": f"bytes */{obj.size}", **SANDBOX_HEADERS},
        )  # fmt: skip
    start, end = byte_range or (0, obj.size - 1)  # uploads are never empty
    response = StreamingHttpResponse(
        default_storage.open_range(obj.blob, start, end),
        status=206 if byte_range else 200,
        content_type=obj.content_type,
    )
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
    response["Content-Length"] = str(end - start + 1)
    for name, value in headers.items():
        response[name] = value
    response["Content-Disposition"] = content_disposition_header(
        not _inline(request, obj), obj.key.rsplit("/", 1)[-1]
    )
    return response


def _inline(request, obj: StoredObject) -> bool:
    content_type = obj.content_type.lower()
    if content_type in INERT_TYPES or content_type.startswith(INERT_PREFIXES):
        return True
    return on_delivery_origin(request) and obj.bucket.inline_delivery


def _if_range_holds(request, etag: str, obj: StoredObject) -> bool:
    """If-Range: the range applies only to the version the client names (a strong ETag, or
    the exact Last-Modified date); otherwise the whole object is sent."""
    validator = request.headers.get("If-Range")
    if validator is None:
        return True
    if validator.startswith(('"', "W/")):
        return validator == etag
    return parse_http_date_safe(validator) == int(obj.updated_at.timestamp())


def _parse_range(header: str, size: int):
    """None (whole file), (start, end) inclusive, or "invalid" for an unsatisfiable range."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # not a single byte range: RFC 9110 lets us send the whole file
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    if start >= size or start > end:
        return "invalid"
    return start, end
