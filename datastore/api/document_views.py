"""Documents of a project (MongoDB), every call through ``TenantDocuments``."""

import json

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from datastore import documents
from datastore.api.views import PreconditionFailed, ProjectScopedView, expected_version
from datastore.constants import Store
from datastore.exceptions import VersionMismatch
from tenants import constants


class DocumentStoreUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The document store is not available."
    default_code = "document_store_unavailable"


def _json_param(params, name: str):
    text = params.get(name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationError({name: ["Not valid JSON."]}) from None


def _int_param(params, name: str, default: int, maximum: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) > maximum:
        raise ValidationError({name: [f"A whole number up to {maximum}."]})
    return int(text)


class DocumentView(ProjectScopedView):
    store = Store.DOCUMENTS

    def repository(self) -> documents.TenantDocuments:
        return documents.TenantDocuments(
            collection=self.collection(), membership=self.request.membership
        )

    def handle_exception(self, exc):
        if isinstance(exc, documents.DocumentQueryError):
            exc = ValidationError({"query": [str(exc)]})
        elif isinstance(exc, VersionMismatch):
            exc = PreconditionFailed()
        elif isinstance(exc, DuplicateKeyError):
            exc = ValidationError({"document": ["A unique index refuses this value."]})
        elif isinstance(exc, OperationFailure):
            exc = ValidationError({"query": ["MongoDB refused the operation."]})
        elif isinstance(exc, documents.DocumentStoreUnavailable | ConnectionFailure):
            exc = DocumentStoreUnavailable()
        return super().handle_exception(exc)

    def _etag(self, doc: dict) -> dict:
        return {"ETag": f'"{doc["version"]}"'}


class DocumentListView(DocumentView):
    @extend_schema(
        operation_id="documents_list",
        parameters=[
            OpenApiParameter("filter", str, description="Mongo-style filter (JSON)."),
            OpenApiParameter("sort", str, description="field,-field ($created_at)."),
            OpenApiParameter("limit", int),
            OpenApiParameter("skip", int),
            OpenApiParameter("count", bool),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, org, project, collection):
        params = request.query_params
        repository = self.repository()
        query = _json_param(params, "filter")
        sort = documents.parse_sort(params.get("sort"))
        limit = _int_param(params, "limit", 20, documents.MAX_PAGE)
        skip = _int_param(params, "skip", 0, 100_000)
        body = {"results": repository.find(query, sort=sort, limit=limit or 20, skip=skip)}
        if params.get("count") == "true":
            body["count"] = repository.count(query)
        return Response(body)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, org, project, collection):
        body = request.data
        if not isinstance(body, dict) or not ("data" in body or "items" in body):
            raise ValidationError({"data": ['{"data": {...}} or {"items": [{...}, ...]}.']})
        repository = self.repository()
        if "items" in body:
            items = body["items"]
            if not isinstance(items, list) or not 0 < len(items) <= 500:
                raise ValidationError({"items": ["A list of 1 to 500 documents."]})
            created = repository.insert_many(items)
            return Response({"results": created}, status=status.HTTP_201_CREATED)
        (doc,) = repository.insert_many([body["data"]])
        return Response(doc, status=status.HTTP_201_CREATED, headers=self._etag(doc))


class DocumentDetailView(DocumentView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, org, project, collection, document):
        doc = self.repository().get(document)
        if doc is None:
            raise Http404
        return Response(doc, headers=self._etag(doc))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def put(self, request, org, project, collection, document):
        return self._write(request, document, merge=False)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request, org, project, collection, document):
        return self._write(request, document, merge=True)

    def _write(self, request, document, *, merge: bool):
        repository = self.repository()
        if not isinstance(request.data, dict) or "data" not in request.data:
            raise ValidationError({"data": ["This field is required."]})
        doc = repository.write(
            document,
            request.data["data"],
            merge=merge,
            expected_version=expected_version(request),
        )
        if doc is None:
            raise Http404
        return Response(doc, headers=self._etag(doc))

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, collection, document):
        repository = self.repository()
        if not repository.delete(document, expected_version=expected_version(request)):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentAggregateView(DocumentView):
    required_perms = {"post": constants.VIEW_DATA}

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, org, project, collection):
        pipeline = request.data.get("pipeline") if isinstance(request.data, dict) else None
        return Response({"results": self.repository().aggregate(pipeline)})


class DocumentIndexListView(DocumentView):
    required_perms = {"get": constants.VIEW_DATA, "post": constants.MANAGE_SCHEMA}

    @extend_schema(operation_id="document_indexes_list", responses=OpenApiTypes.OBJECT)
    def get(self, request, org, project, collection):
        return Response({"results": self.repository().list_indexes()})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, org, project, collection):
        body = request.data if isinstance(request.data, dict) else {}
        unique = body.get("unique", False)
        if not isinstance(unique, bool):
            raise ValidationError({"unique": ["true or false."]})
        name = self.repository().create_index(body.get("keys"), unique=unique)
        return Response({"name": name}, status=status.HTTP_201_CREATED)


class DocumentIndexDetailView(DocumentView):
    required_perms = {"delete": constants.MANAGE_SCHEMA}

    @extend_schema(responses={204: None})
    def delete(self, request, org, project, collection, index):
        if not self.repository().drop_index(index):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)
