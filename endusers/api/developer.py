"""Developers' routes for a project's end users and sign-up settings
(``/orgs/<org>/projects/<project>/end-users/...`` and ``.../auth-settings/``)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from endusers import selectors
from endusers.api import serializers as s
from endusers.services import accounts
from tenants import constants
from tenants.api.base import ProjectView, found, valid

MAX_LIST = 1000


class EndUserListView(ProjectView):
    required_perms = {"get": constants.VIEW_END_USERS}

    @extend_schema(
        operation_id="project_end_users",
        parameters=[OpenApiParameter("search", str, description="Part of an email, or an id.")],
        responses={200: s.AdminEndUserOutput(many=True)},
    )
    def get(self, request, org, project):
        search = (request.query_params.get("search") or "")[:254] or None
        users = selectors.end_user_list(project=self.project(), search=search)[:MAX_LIST]
        return Response(s.AdminEndUserOutput(users, many=True).data)


class EndUserTargetView(ProjectView):
    def end_user(self):
        return found(
            selectors.end_user_get(project=self.project(), end_user_id=self.kwargs["end_user"])
        )


class EndUserDetailView(EndUserTargetView):
    required_perms = {
        "get": constants.VIEW_END_USERS,
        "patch": constants.MANAGE_END_USERS,
        "delete": constants.MANAGE_END_USERS,
    }

    @extend_schema(operation_id="project_end_user", responses={200: s.AdminEndUserOutput})
    def get(self, request, org, project, end_user):
        return Response(s.AdminEndUserOutput(self.end_user()).data)

    @extend_schema(
        operation_id="project_end_user_update",
        request=s.DeveloperUpdateInput,
        responses={200: s.AdminEndUserOutput},
    )
    def patch(self, request, org, project, end_user):
        data = valid(s.DeveloperUpdateInput, request.data)
        updated = accounts.end_user_admin_update(
            project=self.project(), end_user=self.end_user(), membership=request.membership, **data
        )
        return Response(s.AdminEndUserOutput(updated).data)

    @extend_schema(operation_id="project_end_user_delete", responses={204: None})
    def delete(self, request, org, project, end_user):
        accounts.end_user_delete(
            project=self.project(), end_user=self.end_user(), membership=request.membership
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndUserSessionsView(EndUserTargetView):
    required_perms = {"get": constants.VIEW_END_USERS, "delete": constants.MANAGE_END_USERS}

    @extend_schema(
        operation_id="project_end_user_sessions", responses={200: s.EndUserSessionOutput(many=True)}
    )
    def get(self, request, org, project, end_user):
        live = selectors.end_user_session_list(project=self.project(), end_user=self.end_user())
        return Response(s.EndUserSessionOutput(live[:MAX_LIST], many=True).data)

    @extend_schema(operation_id="project_end_user_sessions_revoke", responses={204: None})
    def delete(self, request, org, project, end_user):
        accounts.end_user_sessions_revoke(
            project=self.project(), end_user=self.end_user(), membership=request.membership
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthSettingsView(ProjectView):
    required_perms = {"get": constants.MANAGE_END_USERS, "patch": constants.MANAGE_END_USERS}

    @extend_schema(operation_id="project_auth_settings", responses={200: s.AuthSettingsSerializer})
    def get(self, request, org, project):
        current = selectors.auth_settings_for(project=self.project())
        return Response(s.AuthSettingsSerializer(current).data)

    @extend_schema(
        operation_id="project_auth_settings_update",
        request=s.AuthSettingsInput,
        responses={200: s.AuthSettingsSerializer},
    )
    def patch(self, request, org, project):
        data = valid(s.AuthSettingsInput, request.data)
        updated = accounts.auth_settings_update(
            membership=request.membership, project=self.project(), **data
        )
        return Response(s.AuthSettingsSerializer(updated).data)
