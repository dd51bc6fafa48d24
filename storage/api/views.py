"""Buckets and objects of a project, built on ``tenants.api.base.ProjectView``: the role's
permission per HTTP method, then a service or a selector."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from storage import delivery, selectors, services
from storage.api import serializers as s
from tenants import constants
from tenants.api.base import ProjectView, found, valid

READ_WRITE = {
    "get": constants.VIEW_DATA,
    "post": constants.WRITE_DATA,
    "delete": constants.WRITE_DATA,
}


class StorageView(ProjectView):
    required_perms = READ_WRITE

    def bucket(self):
        return found(selectors.bucket_get(project=self.project(), name=self.kwargs["bucket"]))


class BucketListView(StorageView):
    required_perms = {"get": constants.VIEW_DATA, "post": constants.MANAGE_BUCKETS}

    @extend_schema(operation_id="buckets_list", responses=s.BucketSerializer(many=True))
    def get(self, request, org, project):
        return Response(
            s.BucketSerializer(selectors.bucket_list(project=self.project()), many=True).data
        )

    @extend_schema(request=s.BucketInputSerializer, responses={201: s.BucketSerializer})
    def post(self, request, org, project):
        data = valid(s.BucketInputSerializer, request.data)
        bucket = services.bucket_create(
            membership=request.membership, project=self.project(), **data
        )
        return Response(s.BucketSerializer(bucket).data, status=status.HTTP_201_CREATED)


class BucketDetailView(StorageView):
    required_perms = {"get": constants.VIEW_DATA, "delete": constants.MANAGE_BUCKETS}

    @extend_schema(responses=s.BucketSerializer)
    def get(self, request, org, project, bucket):
        return Response(s.BucketSerializer(self.bucket()).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, bucket):
        services.bucket_delete(membership=request.membership, bucket=self.bucket())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ObjectListView(StorageView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="objects_list",
        parameters=[OpenApiParameter("prefix", str, description="Only keys starting with this")],
        responses=s.ObjectSerializer(many=True),
    )
    def get(self, request, org, project, bucket):
        objects = selectors.object_list(
            bucket=self.bucket(), prefix=request.query_params.get("prefix", "")[:500]
        )
        return Response(s.ObjectSerializer(objects, many=True, context={"request": request}).data)

    @extend_schema(request={"multipart/form-data": s.UploadSerializer},
                   responses={201: s.ObjectSerializer})  # fmt: skip
    def post(self, request, org, project, bucket):
        data = valid(s.UploadSerializer, request.data)
        obj = services.object_put(
            membership=request.membership, bucket=self.bucket(), key=data["key"],
            upload=data["file"],
        )  # fmt: skip
        return Response(
            s.ObjectSerializer(obj, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ObjectDetailView(StorageView):
    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False)
            for name in ("Range", "If-Range", "If-None-Match", "If-Match")
        ],
        responses={
            (200, "application/octet-stream"): bytes,
            (206, "application/octet-stream"): bytes,
            304: OpenApiResponse(description="Not modified (If-None-Match, If-Modified-Since)"),
            412: OpenApiResponse(description="If-Match or If-Unmodified-Since failed"),
            416: OpenApiResponse(description="Range not satisfiable"),
        },
    )
    def get(self, request, org, project, bucket, key):
        obj = found(selectors.object_get(bucket=self.bucket(), key=key))
        return delivery.serve(request, obj, cache_control="private, no-cache")

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, bucket, key):
        obj = found(selectors.object_get(bucket=self.bucket(), key=key))
        services.object_delete(membership=request.membership, obj=obj)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignView(StorageView):
    required_perms = {"post": constants.VIEW_DATA}

    @extend_schema(request=s.SignInputSerializer, responses=s.SignedUrlSerializer)
    def post(self, request, org, project, bucket):
        data = valid(s.SignInputSerializer, request.data)
        obj = found(selectors.object_get(bucket=self.bucket(), key=data["key"]))
        token = services.signed_token(
            membership=request.membership, obj=obj, expires_in=data["expires_in"]
        )
        url = delivery.object_url(request, reverse("storage-signed", args=[token]))
        return Response({"url": url, "expires_in": data["expires_in"]})
