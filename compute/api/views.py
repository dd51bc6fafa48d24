"""Webhooks and scheduled jobs of a project, built on ``tenants.api.base.ProjectView``: the
role's permission per HTTP method, then a service or a selector."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from compute import selectors, services
from compute.api import serializers as s
from tenants import constants
from tenants.api.base import ProjectView, found, valid

WEBHOOK_PERMS = {
    "get": constants.VIEW_DATA,
    "post": constants.MANAGE_WEBHOOKS,
    "patch": constants.MANAGE_WEBHOOKS,
    "delete": constants.MANAGE_WEBHOOKS,
}
JOB_PERMS = {
    "get": constants.VIEW_DATA,
    "post": constants.MANAGE_JOBS,
    "patch": constants.MANAGE_JOBS,
    "delete": constants.MANAGE_JOBS,
}


class JobDisabled(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The job is disabled; enable it to run it."
    default_code = "job_disabled"


class WebhookScopedView(ProjectView):
    required_perms = WEBHOOK_PERMS

    def webhook(self):
        return found(
            selectors.webhook_get(project=self.project(), webhook_id=self.kwargs["webhook"])
        )


class JobScopedView(ProjectView):
    required_perms = JOB_PERMS
    api_errors = {**ProjectView.api_errors, services.JobDisabled: lambda exc: JobDisabled()}

    def job(self):
        return found(selectors.job_get(project=self.project(), job_id=self.kwargs["job"]))


class WebhookListView(WebhookScopedView):
    @extend_schema(operation_id="webhooks_list", responses=s.WebhookSerializer(many=True))
    def get(self, request, org, project):
        hooks = selectors.webhook_list(project=self.project())
        return Response(s.WebhookSerializer(hooks, many=True).data)

    @extend_schema(request=s.WebhookInputSerializer, responses={201: s.WebhookCreatedSerializer})
    def post(self, request, org, project):
        data = valid(s.WebhookInputSerializer, request.data)
        hook = services.webhook_create(
            membership=request.membership, project=self.project(), **data
        )
        return Response(s.WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(WebhookScopedView):
    @extend_schema(responses=s.WebhookSerializer)
    def get(self, request, org, project, webhook):
        return Response(s.WebhookSerializer(self.webhook()).data)

    @extend_schema(request=s.WebhookInputSerializer, responses=s.WebhookSerializer)
    def patch(self, request, org, project, webhook):
        data = valid(s.WebhookInputSerializer, request.data, partial=True)
        hook = services.webhook_update(
            membership=request.membership, webhook=self.webhook(), **data
        )
        return Response(s.WebhookSerializer(hook).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, webhook):
        services.webhook_delete(membership=request.membership, webhook=self.webhook())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(WebhookScopedView):
    @extend_schema(
        operation_id="webhook_deliveries_list", responses=s.DeliverySerializer(many=True)
    )
    def get(self, request, org, project, webhook):
        deliveries = selectors.delivery_list(webhook=self.webhook())
        return Response(s.DeliverySerializer(deliveries, many=True).data)


class JobListView(JobScopedView):
    @extend_schema(operation_id="jobs_list", responses=s.JobSerializer(many=True))
    def get(self, request, org, project):
        return Response(s.JobSerializer(selectors.job_list(project=self.project()), many=True).data)

    @extend_schema(request=s.JobInputSerializer, responses={201: s.JobCreatedSerializer})
    def post(self, request, org, project):
        data = valid(s.JobInputSerializer, request.data)
        job = services.job_create(membership=request.membership, project=self.project(), **data)
        return Response(s.JobCreatedSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailView(JobScopedView):
    @extend_schema(responses=s.JobSerializer)
    def get(self, request, org, project, job):
        return Response(s.JobSerializer(self.job()).data)

    @extend_schema(request=s.JobInputSerializer, responses=s.JobSerializer)
    def patch(self, request, org, project, job):
        data = valid(s.JobInputSerializer, request.data, partial=True)
        updated = services.job_update(membership=request.membership, job=self.job(), **data)
        return Response(s.JobSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, job):
        services.job_delete(membership=request.membership, job=self.job())
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobRunView(JobScopedView):
    """POST: run the job now (queued); GET: its recent runs."""

    @extend_schema(operation_id="job_runs_list", responses=s.JobRunSerializer(many=True))
    def get(self, request, org, project, job):
        return Response(s.JobRunSerializer(selectors.run_list(job=self.job()), many=True).data)

    @extend_schema(
        request=None,
        responses={202: None, 409: OpenApiResponse(description="The job is disabled (Error)")},
    )
    def post(self, request, org, project, job):
        """Queue one run now; a disabled job answers 409 (it is not run)."""
        services.job_run_now(membership=request.membership, job=self.job())
        return Response(status=status.HTTP_202_ACCEPTED)
