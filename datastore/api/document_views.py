"""Documents of a project (MongoDB), every call through ``TenantDocuments``, which checks the
member's permission; input is validated by serializers, errors translated in ``api_errors``."""

from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from datastore import documents
from datastore.api import serializers as s
from datastore.api.views import (
    ProjectScopedView,
    conditional_read,
    etag,
    expected_version,
    validators,
)
from datastore.constants import Store
from tenants import constants
from tenants.api.base import found, valid
from tenants.replicas import lag_tolerant


class DocumentStoreUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The document store is not available."
    default_code = "document_store_unavailable"


class DocumentView(ProjectScopedView):
    store = Store.DOCUMENTS
    api_errors = {
        **ProjectScopedView.api_errors,
        documents.DocumentQueryError: lambda exc: ValidationError({"query": [str(exc)]}),
        # A subclass of OperationFailure, so it comes first.
        DuplicateKeyError: lambda exc: ValidationError(
            {"document": ["A unique index refuses this value."]}
        ),
        OperationFailure: lambda exc: ValidationError(
            {"query": ["MongoDB refused the operation."]}
        ),
        documents.DocumentStoreUnavailable: lambda exc: DocumentStoreUnavailable(),
        ConnectionFailure: lambda exc: DocumentStoreUnavailable(),
    }

    def repository(self) -> documents.TenantDocuments:
        return documents.TenantDocuments(
            collection=self.collection(), membership=self.request.membership
        )


@lag_tolerant
class DocumentListView(DocumentView):
    @extend_schema(
        operation_id="documents_list",
        parameters=[s.DocumentListQuerySerializer],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, org, project, collection):
        query = valid(s.DocumentListQuerySerializer, request.query_params)
        repository = self.repository()
        found = query.get("filter")
        sort = documents.parse_sort(query.get("sort"))
        body = {
            "results": repository.find(found, sort=sort, limit=query["limit"], skip=query["skip"])
        }
        if query["count"]:
            body["count"] = repository.count(found)
        return Response(body)

    @extend_schema(request=s.RecordWriteSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, org, project, collection):
        repository = self.repository()
        if isinstance(request.data, dict) and "items" in request.data:
            items = valid(s.RecordBulkSerializer, request.data)["items"]
            return Response(
                {"results": repository.insert_many(items)}, status=status.HTTP_201_CREATED
            )
        data = valid(s.RecordWriteSerializer, request.data)["data"]
        (doc,) = repository.insert_many([data])
        return Response(doc, status=status.HTTP_201_CREATED, headers=etag(doc["version"]))


def _updated_at(doc: dict) -> datetime | None:
    stamp = doc["updated_at"] or doc["created_at"]
    return datetime.fromisoformat(stamp) if stamp else None


@lag_tolerant
class DocumentDetailView(DocumentView):
    @extend_schema(
        responses={
            200: OpenApiTypes.OBJECT,
            304: OpenApiResponse(description="Not modified (If-None-Match, If-Modified-Since)"),
            412: OpenApiResponse(description="If-Match or If-Unmodified-Since failed"),
        },
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER)],
    )
    def get(self, request, org, project, collection, document):
        doc = found(self.repository().get(document))
        return conditional_read(
            request, version=doc["version"], updated_at=_updated_at(doc), body=doc
        )

    @extend_schema(request=s.RecordWriteSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request, org, project, collection, document):
        return self._write(request, document, merge=False)

    @extend_schema(request=s.RecordWriteSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, org, project, collection, document):
        return self._write(request, document, merge=True)

    def _write(self, request, document, *, merge: bool):
        repository = self.repository()
        data = valid(s.RecordWriteSerializer, request.data)["data"]
        doc = found(
            repository.write(
                document, data, merge=merge, expected_version=expected_version(request)
            )
        )
        return Response(
            doc, headers=validators(version=doc["version"], updated_at=_updated_at(doc))
        )

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, collection, document):
        found(self.repository().delete(document, expected_version=expected_version(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentAggregateView(DocumentView):
    required_perms = {"post": constants.VIEW_DATA}

    @extend_schema(request=s.DocumentAggregateSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, org, project, collection):
        pipeline = valid(s.DocumentAggregateSerializer, request.data)["pipeline"]
        return Response({"results": self.repository().aggregate(pipeline)})


class DocumentIndexListView(DocumentView):
    required_perms = {"get": constants.VIEW_DATA, "post": constants.MANAGE_SCHEMA}

    @extend_schema(operation_id="document_indexes_list", responses=OpenApiTypes.OBJECT)
    def get(self, request, org, project, collection):
        return Response({"results": self.repository().list_indexes()})

    @extend_schema(request=s.DocumentIndexSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, org, project, collection):
        data = valid(s.DocumentIndexSerializer, request.data)
        name = self.repository().create_index(data["keys"], unique=data["unique"])
        return Response({"name": name}, status=status.HTTP_201_CREATED)


class DocumentIndexDetailView(DocumentView):
    required_perms = {"delete": constants.MANAGE_SCHEMA}

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, collection, index):
        found(self.repository().drop_index(index))
        return Response(status=status.HTTP_204_NO_CONTENT)
