"""Collections and records of a project, built on ``tenants.api.base.ProjectView``: the role's
permission per HTTP method, then a service or a selector."""

from datetime import datetime

from django.utils.http import http_date
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from datastore import filters, selectors, services
from datastore.api import serializers as s
from datastore.constants import MAX_BULK, Store
from datastore.exceptions import VersionMismatch
from datastore.models import Record
from platform_site.conditional import conditional_response, if_match_tags
from tenants import constants
from tenants.api.base import ProjectView, found, valid
from tenants.replicas import lag_tolerant

READ_WRITE = {
    "get": constants.VIEW_DATA,
    "post": constants.WRITE_DATA,
    "put": constants.WRITE_DATA,
    "patch": constants.WRITE_DATA,
    "delete": constants.WRITE_DATA,
}


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record has changed since the version named in If-Match."
    default_code = "precondition_failed"


def etag(version: int) -> dict[str, str]:
    """The ``ETag`` header of a record or document at ``version`` (what If-Match names)."""
    return {"ETag": f'"{version}"'}


def expected_version(request) -> int | None:
    """The version a write's If-Match names (``"3"``), None without the header or for ``*``.

    The comparison is strong (``if_match_tags``): ``W/"3"``, a tag that is no version, or two
    different versions fail with 412. The write compares it under its row lock.
    """
    tags = if_match_tags(request)
    if tags is None:
        return None
    versions = {int(tag[1:-1]) for tag in tags if tag[1:-1].isdigit() and len(tag) < 12}
    if len(versions) != 1:
        raise PreconditionFailed()
    return versions.pop()


def validators(*, version: int, updated_at: datetime | None) -> dict[str, str]:
    """``ETag`` and, when known, ``Last-Modified`` of a record or document."""
    headers = etag(version)
    if updated_at is not None:
        headers["Last-Modified"] = http_date(updated_at.timestamp())
    return headers


def conditional_read(request, *, version: int, updated_at: datetime | None, body) -> Response:
    """A record's or document's GET: 304 or 412 from ``conditional_response``, else 200."""
    headers = validators(version=version, updated_at=updated_at)
    conditional = conditional_response(
        request, etag=headers["ETag"], last_modified=updated_at, headers=headers
    )
    return conditional if conditional is not None else Response(body, headers=headers)


class ProjectScopedView(ProjectView):
    required_perms = READ_WRITE
    store = Store.RECORDS
    api_errors = {
        **ProjectView.api_errors,
        VersionMismatch: lambda exc: PreconditionFailed(),
    }

    def collection(self):
        """The URL's collection in the URL's project of the request's org (one query)."""
        return found(
            selectors.collection_get(
                org_id=self.request.org.id,
                project_id=self.kwargs["project"],
                name=self.kwargs["collection"],
                store=self.store,
            )
        )


@lag_tolerant
class CollectionListView(ProjectScopedView):
    required_perms = {"get": constants.VIEW_DATA, "post": constants.MANAGE_SCHEMA}

    @extend_schema(operation_id="collections_list", responses=s.CollectionSerializer(many=True))
    def get(self, request, org, project):
        collections = selectors.collection_list(project=self.project())
        return Response(s.CollectionSerializer(collections, many=True).data)

    @extend_schema(request=s.CollectionCreateSerializer, responses={201: s.CollectionSerializer})
    def post(self, request, org, project):
        data = valid(s.CollectionCreateSerializer, request.data)
        collection = services.collection_create(
            membership=request.membership, project=self.project(), **data
        )
        return Response(s.CollectionSerializer(collection).data, status=status.HTTP_201_CREATED)


@lag_tolerant
class CollectionDetailView(ProjectScopedView):
    required_perms = {
        "get": constants.VIEW_DATA,
        "patch": constants.MANAGE_SCHEMA,
        "delete": constants.MANAGE_SCHEMA,
    }
    store = None  # either store

    @extend_schema(responses=s.CollectionSerializer)
    def get(self, request, org, project, collection):
        return Response(s.CollectionSerializer(self.collection()).data)

    @extend_schema(request=s.CollectionUpdateSerializer, responses=s.CollectionSerializer)
    def patch(self, request, org, project, collection):
        target = self.collection()
        data = valid(s.CollectionUpdateSerializer, request.data)
        updated = services.collection_update(
            membership=request.membership, collection=target, **data
        )
        return Response(s.CollectionSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, collection):
        services.collection_delete(membership=request.membership, collection=self.collection())
        return Response(status=status.HTTP_204_NO_CONTENT)


LIST_PARAMETERS = [
    OpenApiParameter(
        "filter",
        str,
        many=True,
        description="<path>:<op>:<json value>; ops: " + ", ".join(filters.OPERATORS),
    ),
    OpenApiParameter("order", str, description="<path>, -<path>, $created_at, $updated_at"),
    OpenApiParameter("fields", str, description="Comma-separated data paths to return."),
    OpenApiParameter("limit", int, description="1 to 200 (default 20)."),
    OpenApiParameter("cursor", str, description="next_cursor of the previous page."),
    OpenApiParameter("count", bool, description="Also return the total number of matches."),
]


def parse_query(params) -> filters.ListQuery:
    try:
        return filters.parse_list_query(params)
    except filters.FilterError as exc:
        raise ValidationError({"query": [str(exc)]}) from None


@lag_tolerant
class RecordListView(ProjectScopedView):
    @extend_schema(
        operation_id="records_list", parameters=LIST_PARAMETERS, responses=s.RecordPageSerializer
    )
    def get(self, request, org, project, collection):
        query = parse_query(request.query_params)
        records, next_cursor, count = selectors.record_list(
            collection=self.collection(), query=query
        )
        results = s.RecordSerializer(records, many=True).data
        for item in results:
            item["data"] = filters.select_fields(item["data"], query.fields)
        body = {"results": results, "next_cursor": next_cursor}
        if count is not None:
            body["count"] = count
        return Response(body)

    @extend_schema(
        request=s.RecordWriteSerializer,
        responses={201: s.RecordSerializer},
        description=f'One record: {{"data": {{...}}}}. Several: {{"items": [{{...}}, ...]}} '
        f"(max {MAX_BULK}).",
    )
    def post(self, request, org, project, collection):
        target = self.collection()
        if isinstance(request.data, dict) and "items" in request.data:
            items = valid(s.RecordBulkSerializer, request.data)["items"]
            records = services.record_bulk_create(
                membership=request.membership, collection=target, items=items
            )
            return Response(
                {"results": s.RecordSerializer(records, many=True).data},
                status=status.HTTP_201_CREATED,
            )
        data = valid(s.RecordWriteSerializer, request.data)["data"]
        record = services.record_create(membership=request.membership, collection=target, data=data)
        return Response(
            s.RecordSerializer(record).data,
            status=status.HTTP_201_CREATED,
            headers=etag(record.version),
        )


@lag_tolerant
class RecordDetailView(ProjectScopedView):
    def _respond(self, record: Record) -> Response:
        headers = validators(version=record.version, updated_at=record.updated_at)
        return Response(s.RecordSerializer(record).data, headers=headers)

    @extend_schema(
        responses={
            200: s.RecordSerializer,
            304: OpenApiResponse(description="Not modified (If-None-Match, If-Modified-Since)"),
            412: OpenApiResponse(description="If-Match or If-Unmodified-Since failed"),
        },
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER)],
    )
    def get(self, request, org, project, collection, record):
        record = found(selectors.record_get(collection=self.collection(), record_id=record))
        return conditional_read(
            request,
            version=record.version,
            updated_at=record.updated_at,
            body=s.RecordSerializer(record).data,
        )

    @extend_schema(
        request=s.RecordWriteSerializer,
        responses=s.RecordSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)],
    )
    def put(self, request, org, project, collection, record):
        return self._write(request, record, merge=False)

    @extend_schema(
        request=s.RecordWriteSerializer,
        responses=s.RecordSerializer,
        description="JSON Merge Patch (RFC 7396) of data; null removes a key.",
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)],
    )
    def patch(self, request, org, project, collection, record):
        return self._write(request, record, merge=True)

    def _write(self, request, record_id, *, merge: bool) -> Response:
        target = self.collection()
        version = expected_version(request)
        data = valid(s.RecordWriteSerializer, request.data)["data"]
        record = services.record_update(
            membership=request.membership,
            collection=target,
            record_id=record_id,
            data=data,
            merge=merge,
            expected_version=version,
        )
        return self._respond(record)

    @extend_schema(
        responses={204: None},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)],
    )
    def delete(self, request, org, project, collection, record):
        target = self.collection()
        version = expected_version(request)
        services.record_delete(
            membership=request.membership,
            collection=target,
            record_id=record,
            expected_version=version,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
