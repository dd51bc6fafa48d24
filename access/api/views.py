"""The rules API of a project: list and set the access rules client apps are held to."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from access import selectors, services
from access.api import serializers as s
from datastore.selectors import collection_get
from storage.selectors import bucket_get
from tenants import constants
from tenants.api.base import ProjectView, valid


class RuleListView(ProjectView):
    required_perms = {"get": constants.VIEW_PROJECT, "put": constants.CHANGE_ACCESS_RULES}

    @extend_schema(
        operation_id="access_rules_list",
        parameters=[s.RuleQuerySerializer],
        responses=s.RuleSerializer(many=True),
    )
    def get(self, request, org, project):
        query = valid(s.RuleQuerySerializer, request.query_params)
        rules = selectors.rule_list(
            project=self.project(),
            resource_type=query.get("resource_type"),
            resource_id=query.get("resource_id"),
            channel=query.get("channel"),
        )
        return Response(s.RuleSerializer(rules, many=True).data)

    @extend_schema(
        operation_id="access_rules_set", request=s.RuleSetSerializer, responses=s.RuleSerializer
    )
    def put(self, request, org, project):
        target = self.project()
        data = valid(s.RuleSetSerializer, request.data)
        resource_id = data.get("resource_id")
        if data.get("collection"):
            found = collection_get(
                org_id=target.org_id, project_id=target.id, name=data["collection"], store=None
            )
            if found is None:
                raise ValidationError({"collection": "No such collection in this project."})
            resource_id = found.id
        elif data.get("bucket"):
            found = bucket_get(project=target, name=data["bucket"])
            if found is None:
                raise ValidationError({"bucket": "No such bucket in this project."})
            resource_id = found.id
        rule = services.rule_set(
            membership=request.membership,
            project=target,
            resource_type=data["resource_type"],
            resource_id=resource_id,
            channel=data["channel"],
            operation=data["operation"],
            client_role=data["client_role"],
            kind=data["kind"],
            app_role=data["app_role"],
            conditions=data["conditions"],
        )
        return Response(s.RuleSerializer(rule).data)
