"""The URL patterns org-scoped API routes are built from, and the one way to route them.

Every route is a regular expression with an optional trailing slash, so ``/orgs/acme`` and
``/orgs/acme/`` both answer (a redirect would turn a client's POST into a GET).
"""

from django.urls import URLPattern, re_path

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ORGS = r"^orgs"
ORG = ORGS + r"/(?P<org>[^/]+)"  # slug or id
PROJECT = ORG + rf"/projects/(?P<project>{UUID})"


def route(pattern: str, view, *, trailing_slash: bool = True) -> URLPattern:
    """``view`` (an APIView class) at ``pattern``; ``trailing_slash=False`` for a pattern whose
    last part may itself contain slashes (object keys)."""
    return re_path(pattern + (r"/?$" if trailing_slash else "$"), view.as_view())
