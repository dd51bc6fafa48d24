"""The one base of client-app API views (``/client/v1/...``).

``endusers.middleware`` has identified the caller (``request.client``: the project from the
key, the role, the end user) and the tenant middleware has set that context for the
transaction; a view reads ``self.client`` and lets row-level security and the access rules
decide what its queries see.
"""

from rest_framework.permissions import BasePermission

from tenants.api.base import ServiceView


class HasClient(BasePermission):
    def has_permission(self, request, view) -> bool:
        return getattr(request._request, "client", None) is not None


class ClientView(ServiceView):
    authentication_classes: list = []
    permission_classes = [HasClient]

    @property
    def client(self):
        return self.request._request.client
