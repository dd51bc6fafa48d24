"""Client-app routes of the project itself."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from endusers.api.base import ClientView


class ClientProjectView(ClientView):
    """The project the key names, and who the caller is to it."""

    @extend_schema(
        operation_id="client_project",
        responses=inline_serializer(
            "ClientProject",
            {
                "ref": serializers.CharField(),
                "name": serializers.CharField(),
                "role": serializers.CharField(),
                "end_user_id": serializers.UUIDField(allow_null=True),
            },
        ),
    )
    def get(self, request):
        client = self.client
        return Response(
            {
                "ref": client.project.ref,
                "name": client.project.name,
                "role": client.role,
                "end_user_id": str(client.end_user_id) if client.end_user_id else None,
            }
        )
