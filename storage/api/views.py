"""Buckets and objects of a project, built on ``tenants.api.base.ProjectView``: the role's
permission per HTTP method, then a service or a selector. Client apps' routes build on
``endusers.api.base.ClientView``: the access rules decide, in PostgreSQL."""

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from endusers.api.base import ClientView
from storage import delivery, selectors, services
from storage.api import serializers as s
from storage.api.uploads import raw_upload
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


# --- client apps (``/client/v1/storage/<bucket>/...``) ------------------------------------------
# A bucket of another project, or one that does not exist, is 404; an object the caller's
# "select" rule does not show is 404 (it is not there for the caller); an operation the rules
# refuse on a bucket or object the caller sees is 403.


class ClientStorageView(ClientView):
    api_errors = {**ClientView.api_errors}

    def bucket(self):
        return found(selectors.bucket_get(project=self.client.project, name=self.kwargs["bucket"]))

    def refuse_unless(self, bucket, operation: str) -> None:
        if not selectors.client_rule_opens(client=self.client, bucket=bucket, operation=operation):
            raise PermissionDenied(f"The access rules do not allow '{operation}' on this bucket.")


class ClientObjectListView(ClientStorageView):
    @extend_schema(
        operation_id="client_objects_list",
        parameters=[OpenApiParameter("prefix", str, description="Only keys starting with this")],
        responses=s.ObjectSerializer(many=True),
    )
    def get(self, request, bucket):
        found_bucket = self.bucket()
        self.refuse_unless(found_bucket, "select")
        objects = selectors.object_list(
            bucket=found_bucket, prefix=request.query_params.get("prefix", "")[:500]
        )
        return Response(s.ObjectSerializer(objects, many=True, context={"request": request}).data)


class ClientObjectView(ClientStorageView):
    @extend_schema(
        operation_id="client_object_get",
        parameters=[
            OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False)
            for name in ("Range", "If-Range", "If-None-Match", "If-Match")
        ],
        responses={
            (200, "application/octet-stream"): bytes,
            (206, "application/octet-stream"): bytes,
            304: OpenApiResponse(description="Not modified (If-None-Match, If-Modified-Since)"),
            416: OpenApiResponse(description="Range not satisfiable"),
        },
    )
    def get(self, request, bucket, key):
        found_bucket = self.bucket()
        obj = selectors.object_get(bucket=found_bucket, key=key)
        if obj is None:  # public buckets stay public for downloads, rules or not
            obj = found(selectors.public_object(bucket=found_bucket, key=key))
            max_age = services.public_cache_seconds()
            return delivery.serve(request._request, obj, cache_control=f"public, max-age={max_age}")
        return delivery.serve(request._request, obj, cache_control="private, no-cache")

    @extend_schema(
        operation_id="client_object_put",
        request={"application/octet-stream": bytes},
        responses={200: s.ObjectSerializer, 201: s.ObjectSerializer},
    )
    def put(self, request, bucket, key):
        found_bucket = self.bucket()
        with raw_upload(request._request, found_bucket, key) as upload:
            obj, created = services.client_object_put(
                client=self.client, bucket=found_bucket, key=key, upload=upload
            )
        obj.bucket = found_bucket
        return Response(
            s.ObjectSerializer(obj, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(operation_id="client_object_delete", responses={204: None})
    def delete(self, request, bucket, key):
        obj = found(selectors.object_get(bucket=self.bucket(), key=key))
        services.client_object_delete(client=self.client, obj=obj)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClientSignInputSerializer(serializers.Serializer):
    expires_in = serializers.IntegerField(min_value=1, max_value=7 * 24 * 3600, default=3600)


class ClientSignView(ClientStorageView):
    @extend_schema(
        operation_id="client_object_sign",
        request=ClientSignInputSerializer,
        responses=s.SignedUrlSerializer,
    )
    def post(self, request, bucket, key):
        data = valid(ClientSignInputSerializer, request.data)
        obj = found(selectors.object_get(bucket=self.bucket(), key=key))
        token = services.client_signed_token(
            client=self.client, obj=obj, expires_in=data["expires_in"]
        )
        url = delivery.object_url(request, reverse("storage-signed", args=[token]))
        return Response({"url": url, "expires_in": data["expires_in"]})
