"""A project's API keys (``/orgs/<org>/projects/<project>/keys/...``): list (prefix only,
never the hash), create and rotate (the key itself in that one response), revoke."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from endusers.api import serializers as s
from tenants import constants, selectors, services
from tenants.api.base import ProjectView, found, valid


def _created(key, raw: str) -> dict:
    return {**s.KeyOutput(key).data, "key": raw}


class KeyListView(ProjectView):
    required_perms = {"get": constants.MANAGE_API_KEYS, "post": constants.MANAGE_API_KEYS}

    @extend_schema(operation_id="project_keys", responses={200: s.KeyOutput(many=True)})
    def get(self, request, org, project):
        keys = selectors.api_key_list(project=self.project())
        return Response(s.KeyOutput(keys, many=True).data)

    @extend_schema(
        operation_id="project_key_create", request=s.KeyInput, responses={201: s.KeyCreatedOutput}
    )
    def post(self, request, org, project):
        data = valid(s.KeyInput, request.data)
        key, raw = services.api_key_create(
            membership=request.membership, project=self.project(), **data
        )
        return Response(_created(key, raw), status=status.HTTP_201_CREATED)


class KeyTargetView(ProjectView):
    def key(self):
        keys = selectors.api_key_list(project=self.project())
        return found(keys.filter(pk=self.kwargs["key_id"]).first())


class KeyDetailView(KeyTargetView):
    required_perms = {"delete": constants.MANAGE_API_KEYS}

    @extend_schema(operation_id="project_key_revoke", responses={204: None})
    def delete(self, request, org, project, key_id):
        services.api_key_revoke(membership=request.membership, key=self.key())
        return Response(status=status.HTTP_204_NO_CONTENT)


class KeyRotateView(KeyTargetView):
    required_perms = {"post": constants.MANAGE_API_KEYS}

    @extend_schema(
        operation_id="project_key_rotate", request=None, responses={201: s.KeyCreatedOutput}
    )
    def post(self, request, org, project, key_id):
        key = self.key()
        if key.revoked_at is not None:
            raise ValidationError({"key": "This key is revoked; create a new one."})
        new_key, raw = services.api_key_rotate(membership=request.membership, key=key)
        return Response(_created(new_key, raw), status=status.HTTP_201_CREATED)
