"""The one base of org-scoped API views (``/orgs/<org>/...``), and of every API view's error
handling (``ServiceView``; client-app views build on it in ``endusers.api.base``).

The tenant middleware has already checked membership and set the RLS context. A view built on
``OrgView`` declares ``required_perms`` per HTTP method (checked by ``OrgPermission`` before
the handler runs), validates input with ``valid`` and a serializer, and lets its services'
exceptions propagate: ``api_errors`` turns them into API errors in ``handle_exception``, so no
handler needs a try/except of its own.
"""

from collections.abc import Callable

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from tenants import selectors
from tenants.permissions import OrgPermission


def valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def found(value):
    """``value``, or a 404 when a selector or repository found nothing (None or False)."""
    if value is None or value is False:
        raise Http404
    return value


def not_found(exc: Exception) -> APIException:
    return NotFound()


class ServiceView(APIView):
    """An API view whose services' exceptions become API errors (``api_errors``)."""

    # Domain exception -> API error; a subclass extends it with ``{**Base.api_errors, ...}``.
    api_errors: dict[type[Exception], Callable[[Exception], APIException]] = {
        ObjectDoesNotExist: not_found,
    }

    def handle_exception(self, exc):
        for exc_type, to_api_error in self.api_errors.items():
            if isinstance(exc, exc_type):
                exc = to_api_error(exc)
                break
        return super().handle_exception(exc)


class OrgView(ServiceView):
    """An API view inside one org; ``required_perms`` maps HTTP methods to org permissions."""

    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms: dict[str, str | None] = {}


class ProjectView(OrgView):
    """An API view under a project (``/orgs/<org>/projects/<project>/...``)."""

    def project(self):
        projects = selectors.project_list(org=self.request.org)
        return found(projects.filter(pk=self.kwargs["project"]).first())
