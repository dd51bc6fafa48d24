"""Orgs, members, projects and invitations. Built on ``tenants.api.base.OrgView``: the role's
permission per HTTP method, then a service or a selector."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import constants, selectors, services
from tenants.api import serializers as s
from tenants.api.base import OrgView, found, valid
from tenants.models import Project


class OrgListView(APIView):
    """The caller's orgs (not inside one org: RLS shows only the caller's memberships)."""

    @extend_schema(responses=s.OrganizationSerializer(many=True))
    def get(self, request):
        orgs = selectors.org_list_for_user(user=request.user)
        return Response(s.OrganizationSerializer(orgs, many=True).data)

    @extend_schema(
        request=s.OrganizationCreateSerializer, responses={201: s.OrganizationSerializer}
    )
    def post(self, request):
        data = valid(s.OrganizationCreateSerializer, request.data)
        org = services.org_create(actor=request.user, **data)
        return Response(s.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)


class OrgDetailView(OrgView):
    required_perms = {
        "get": constants.VIEW_ORG,
        "patch": constants.CHANGE_ORG,
        "delete": constants.DELETE_ORG,
    }

    @extend_schema(responses=s.OrganizationSerializer)
    def get(self, request, org):
        return Response(s.OrganizationSerializer(request.org).data)

    @extend_schema(request=s.OrganizationUpdateSerializer, responses=s.OrganizationSerializer)
    def patch(self, request, org):
        data = valid(s.OrganizationUpdateSerializer, request.data)
        updated = services.org_update(membership=request.membership, **data)
        return Response(s.OrganizationSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org):
        services.org_delete(membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(OrgView):
    required_perms = {"get": constants.VIEW_MEMBERS, "post": constants.MANAGE_MEMBERS}

    @extend_schema(responses=s.MembershipSerializer(many=True))
    def get(self, request, org):
        members = selectors.member_list(org=request.org)
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(request=s.MemberAddSerializer, responses={201: s.MembershipSerializer})
    def post(self, request, org):
        data = valid(s.MemberAddSerializer, request.data)
        member = services.member_add(membership=request.membership, **data)
        return Response(s.MembershipSerializer(member).data, status=status.HTTP_201_CREATED)


class MemberDetailView(OrgView):
    required_perms = {
        "get": constants.VIEW_MEMBERS,
        "patch": constants.MANAGE_MEMBERS,
        "delete": None,  # members may leave; the service checks removing others
    }

    def target(self):
        return found(
            selectors.member_get(org=self.request.org, user_id=int(self.kwargs["user_id"]))
        )

    @extend_schema(responses=s.MembershipSerializer)
    def get(self, request, org, user_id):
        return Response(s.MembershipSerializer(self.target()).data)

    @extend_schema(request=s.MemberRoleSerializer, responses=s.MembershipSerializer)
    def patch(self, request, org, user_id):
        data = valid(s.MemberRoleSerializer, request.data)
        member = services.member_change_role(
            membership=request.membership, target=self.target(), **data
        )
        return Response(s.MembershipSerializer(member).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, user_id):
        services.member_remove(membership=request.membership, target=self.target())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectListView(OrgView):
    required_perms = {"get": constants.VIEW_PROJECT, "post": constants.ADD_PROJECT}

    @extend_schema(responses=s.ProjectSerializer(many=True))
    def get(self, request, org):
        projects = selectors.project_list(org=request.org)
        return Response(s.ProjectSerializer(projects, many=True).data)

    @extend_schema(request=s.ProjectSerializer, responses={201: s.ProjectSerializer})
    def post(self, request, org):
        data = valid(s.ProjectSerializer, request.data)
        project = services.project_create(membership=request.membership, **data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(OrgView):
    required_perms = {
        "get": constants.VIEW_PROJECT,
        # Writes are checked by the service, where object-level grants apply.
        "put": None,
        "patch": None,
        "delete": None,
    }

    def target(self) -> Project:
        projects = selectors.project_list(org=self.request.org)
        return get_object_or_404(projects, pk=self.kwargs["project"])

    @extend_schema(responses=s.ProjectSerializer)
    def get(self, request, org, project):
        return Response(s.ProjectSerializer(self.target()).data)

    @extend_schema(request=s.ProjectSerializer, responses=s.ProjectSerializer)
    def put(self, request, org, project):
        return self._update(request, partial=False)

    @extend_schema(request=s.ProjectSerializer, responses=s.ProjectSerializer)
    def patch(self, request, org, project):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        target = self.target()
        data = valid(s.ProjectSerializer, request.data, partial=partial)
        updated = services.project_update(membership=request.membership, project=target, **data)
        return Response(s.ProjectSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, project):
        services.project_delete(membership=request.membership, project=self.target())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(OrgView):
    required_perms = {"get": constants.MANAGE_MEMBERS, "post": constants.MANAGE_MEMBERS}

    @extend_schema(responses=s.InvitationSerializer(many=True))
    def get(self, request, org):
        invitations = selectors.invitation_list(org=request.org)
        return Response(s.InvitationSerializer(invitations, many=True).data)

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationSerializer})
    def post(self, request, org):
        data = valid(s.InvitationCreateSerializer, request.data)
        invitation, _token = services.member_invite(membership=request.membership, **data)
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailView(OrgView):
    required_perms = {"delete": constants.MANAGE_MEMBERS}

    @extend_schema(responses={204: None})
    def delete(self, request, org, invitation):
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
