"""Orgs, members and projects. The tenant middleware has already checked membership for every
``/orgs/<org>/`` URL and set the RLS context; these views check the role's permission."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import constants, selectors, services
from tenants.api import serializers as s
from tenants.api.base import valid
from tenants.models import Project
from tenants.permissions import OrgPermission


class OrganizationViewSet(viewsets.ViewSet):
    lookup_field = "org"
    lookup_value_regex = "[^/]+"
    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms = {
        "retrieve": constants.VIEW_ORG,
        "partial_update": constants.CHANGE_ORG,
        "destroy": constants.DELETE_ORG,
    }

    @extend_schema(responses=s.OrganizationSerializer(many=True))
    def list(self, request):
        orgs = selectors.org_list_for_user(user=request.user)
        return Response(s.OrganizationSerializer(orgs, many=True).data)

    @extend_schema(
        request=s.OrganizationCreateSerializer, responses={201: s.OrganizationSerializer}
    )
    def create(self, request):
        data = valid(s.OrganizationCreateSerializer, request.data)
        org = services.org_create(actor=request.user, **data)
        return Response(s.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.OrganizationSerializer)
    def retrieve(self, request, org=None):
        return Response(s.OrganizationSerializer(request.org).data)

    @extend_schema(request=s.OrganizationUpdateSerializer, responses=s.OrganizationSerializer)
    def partial_update(self, request, org=None):
        data = valid(s.OrganizationUpdateSerializer, request.data)
        updated = services.org_update(membership=request.membership, **data)
        return Response(s.OrganizationSerializer(updated).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, org=None):
        services.org_delete(membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberViewSet(viewsets.ViewSet):
    lookup_field = "user_id"
    lookup_value_regex = "[0-9]{1,18}"
    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms = {
        "list": constants.VIEW_MEMBERS,
        "retrieve": constants.VIEW_MEMBERS,
        "create": constants.MANAGE_MEMBERS,
        "partial_update": constants.MANAGE_MEMBERS,
        "destroy": None,  # members may leave; the service checks removing others
    }

    def _target(self, request, user_id):
        target = selectors.member_get(org=request.org, user_id=int(user_id))
        if target is None:
            raise Http404
        return target

    @extend_schema(responses=s.MembershipSerializer(many=True))
    def list(self, request, org=None):
        members = selectors.member_list(org=request.org)
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(request=s.MemberAddSerializer, responses={201: s.MembershipSerializer})
    def create(self, request, org=None):
        data = valid(s.MemberAddSerializer, request.data)
        member = services.member_add(membership=request.membership, **data)
        return Response(s.MembershipSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.MembershipSerializer)
    def retrieve(self, request, org=None, user_id=None):
        return Response(s.MembershipSerializer(self._target(request, user_id)).data)

    @extend_schema(request=s.MemberRoleSerializer, responses=s.MembershipSerializer)
    def partial_update(self, request, org=None, user_id=None):
        data = valid(s.MemberRoleSerializer, request.data)
        member = services.member_change_role(
            membership=request.membership, target=self._target(request, user_id), **data
        )
        return Response(s.MembershipSerializer(member).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, org=None, user_id=None):
        services.member_remove(membership=request.membership, target=self._target(request, user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectViewSet(viewsets.ViewSet):
    lookup_field = "project"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms = {
        "list": constants.VIEW_PROJECT,
        "retrieve": constants.VIEW_PROJECT,
        "create": constants.ADD_PROJECT,
        # update/destroy are checked by the service, where object-level grants apply.
    }

    def _project(self, request, project_id) -> Project:
        return get_object_or_404(selectors.project_list(org=request.org), pk=project_id)

    @extend_schema(responses=s.ProjectSerializer(many=True))
    def list(self, request, org=None):
        return Response(
            s.ProjectSerializer(selectors.project_list(org=request.org), many=True).data
        )

    @extend_schema(request=s.ProjectSerializer, responses={201: s.ProjectSerializer})
    def create(self, request, org=None):
        data = valid(s.ProjectSerializer, request.data)
        project = services.project_create(membership=request.membership, **data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.ProjectSerializer)
    def retrieve(self, request, org=None, project=None):
        return Response(s.ProjectSerializer(self._project(request, project)).data)

    @extend_schema(request=s.ProjectSerializer, responses=s.ProjectSerializer)
    def update(self, request, org=None, project=None):
        return self._update(request, project, partial=False)

    @extend_schema(request=s.ProjectSerializer, responses=s.ProjectSerializer)
    def partial_update(self, request, org=None, project=None):
        return self._update(request, project, partial=True)

    def _update(self, request, project_id, *, partial: bool):
        project = self._project(request, project_id)
        data = valid(s.ProjectSerializer, request.data, partial=partial)
        updated = services.project_update(membership=request.membership, project=project, **data)
        return Response(s.ProjectSerializer(updated).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, org=None, project=None):
        project = self._project(request, project)
        services.project_delete(membership=request.membership, project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(viewsets.ViewSet):
    lookup_field = "invitation"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms = {
        "list": constants.MANAGE_MEMBERS,
        "create": constants.MANAGE_MEMBERS,
        "destroy": constants.MANAGE_MEMBERS,
    }

    @extend_schema(responses=s.InvitationSerializer(many=True))
    def list(self, request, org=None):
        invitations = selectors.invitation_list(org=request.org)
        return Response(s.InvitationSerializer(invitations, many=True).data)

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationSerializer})
    def create(self, request, org=None):
        data = valid(s.InvitationCreateSerializer, request.data)
        invitation, _token = services.member_invite(membership=request.membership, **data)
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, org=None, invitation=None):
        found = get_object_or_404(selectors.invitation_list(org=request.org), pk=invitation)
        services.invitation_revoke(membership=request.membership, invitation=found)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptView(APIView):
    """Accept an invitation sent to the caller's email; answers with the new membership."""

    @extend_schema(request=s.InvitationAcceptSerializer, responses={201: s.MembershipSerializer})
    def post(self, request):
        data = valid(s.InvitationAcceptSerializer, request.data)
        member = services.invitation_accept(user=request.user, token=data["token"])
        return Response(s.MembershipSerializer(member).data, status=status.HTTP_201_CREATED)
