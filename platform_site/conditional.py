"""Conditional reads (RFC 9110 section 13) evaluated by Django itself: If-None-Match compared
weakly (``W/"x"`` matches ``"x"``), ``*``, lists of tags, If-Match, and the date forms. Object
downloads, record and document reads answer through here; record and document writes read
If-Match through ``if_match_tags`` and compare under the row lock of the write itself."""

from datetime import datetime

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import parse_etags

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


def if_match_tags(request) -> list[str] | None:
    """The strong entity tags If-Match names, parsed as Django parses them for reads; None when
    the header is absent or ``*`` (any current representation will do).

    If-Match compares strongly (RFC 9110 section 13.1.1): a weak tag such as ``W/"3"`` matches
    nothing, so it is dropped here and a header of weak tags alone fails the precondition.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    return [tag for tag in tags if not tag.startswith("W/")]
