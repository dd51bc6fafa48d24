"""Serving object bytes the way a CDN edge expects: strong ETags (the content hash),
``If-None-Match`` -> 304, single ``Range`` requests -> 206, and cache headers that say who may
cache (public buckets: shared caches for ``STORAGE_PUBLIC_CACHE_SECONDS``; everything else:
the browser only, never beyond a signed URL's expiry)."""

import re

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse

from storage.models import StoredObject

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve(request, obj: StoredObject, *, cache_control: str) -> HttpResponse:
    etag = f'"{obj.sha256}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Accept-Ranges": "bytes"}
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
        for name, value in headers.items():
            response[name] = value
        return response
    handle = default_storage.open(obj.blob, "rb")
    byte_range = _parse_range(request.headers.get("Range", ""), obj.size)
    if byte_range == "invalid":
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{obj.size}"
        return response
    if byte_range is None:
        response = FileResponse(handle, content_type=obj.content_type)
        response["Content-Length"] = str(obj.size)
    else:
        start, end = byte_range
        handle.seek(start)
        body = handle.read(end - start + 1)
        handle.close()
        response = HttpResponse(body, status=206, content_type=obj.content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
    for name, value in headers.items():
        response[name] = value
    response["Content-Disposition"] = f'inline; filename="{obj.key.rsplit("/", 1)[-1]}"'
    return response


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
