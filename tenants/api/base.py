"""What every org-scoped API view shares: validating input with a serializer, and finding the
project named in the URL (``/orgs/<org>/projects/<project>/...``) inside the request's org."""

from django.http import Http404
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from tenants import selectors
from tenants.permissions import OrgPermission


def valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ProjectView(APIView):
    """An API view under a project; ``required_perms`` maps HTTP methods to org permissions."""

    permission_classes = [IsAuthenticated, OrgPermission]

    def project(self):
        project = (
            selectors.project_list(org=self.request.org).filter(pk=self.kwargs["project"]).first()
        )
        if project is None:
            raise Http404
        return project
