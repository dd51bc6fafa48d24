"""Conditional reads (RFC 9110 section 13) evaluated by Django itself: If-None-Match compared
weakly (``W/"x"`` matches ``"x"``), ``*``, lists of tags, If-Match, and the date forms. Object
downloads and record reads both answer through here."""

from datetime import datetime

from django.http import HttpResponse
from django.utils.cache import get_conditional_response

from platform_site.errors import error_response


def conditional_response(
    request, *, etag: str, last_modified: datetime | None, headers: dict[str, str]
) -> HttpResponse | None:
    """A 304 carrying ``headers``, a 412 in the API's error shape, or None: serve the resource."""
    response = get_conditional_response(
        request,
        etag=etag,
        last_modified=int(last_modified.timestamp()) if last_modified else None,
    )
    if response is None:
        return None
    if response.status_code == 412:
        return error_response(
            request, 412, "precondition_failed", "The resource does not match the preconditions."
        )
    for name, value in headers.items():
        response[name] = value
    return response
