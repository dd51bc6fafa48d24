"""Records and documents for client apps (``/client/v1/...``), under the project's access rules.

The same selectors, services, filters and repository as the developer API, acting for the
client (``self.client``) instead of a membership. The collection is looked up by name in the
key's project. What the caller may see and change is decided by PostgreSQL's client policies
(records) and by the document repository (documents), both reading the access rules:

* 401: no key, an unknown or revoked key, an invalid end-user token (the middleware);
* 404: a collection or a row the caller cannot see, under any rule;
* 403 ``permission_denied``: an insert, or a change or delete of a row the caller can see,
  that the rules refuse (for records: PostgreSQL's row-level security error, SQLSTATE 42501).
"""

from django.db import DatabaseError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from datastore import documents, filters, selectors, services
from datastore.api import serializers as s
from datastore.api.document_views import DocumentStoreUnavailable, _updated_at
from datastore.api.views import (
    LIST_PARAMETERS,
    PreconditionFailed,
    conditional_read,
    etag,
    expected_version,
    parse_query,
    validators,
)
from datastore.constants import Store
from datastore.exceptions import RuleRefused, VersionMismatch
from datastore.models import Record
from endusers.api.base import ClientView
from platform_site.errors import row_security_denied
from tenants.api.base import found, valid
from tenants.replicas import lag_tolerant

REFUSED = "The project's access rules do not allow this."


def _refused(exc: Exception) -> PermissionDenied:
    return PermissionDenied(REFUSED)


class ClientDataView(ClientView):
    store = Store.RECORDS
    api_errors = {
        **ClientView.api_errors,
        VersionMismatch: lambda exc: PreconditionFailed(),
        RuleRefused: _refused,
        DatabaseError: row_security_denied,
    }

    def collection(self):
        """The URL's collection in the key's project (one query, with the select rule's kind)."""
        return found(
            selectors.collection_for_client(
                client=self.client, name=self.kwargs["collection"], store=self.store
            )
        )


@lag_tolerant
class ClientRecordListView(ClientDataView):
    @extend_schema(
        operation_id="client_records_list",
        parameters=LIST_PARAMETERS,
        responses=s.RecordPageSerializer,
    )
    def get(self, request, collection):
        query = parse_query(request.query_params)
        records, next_cursor, count = selectors.record_list(
            collection=self.collection(), query=query, client=self.client
        )
        results = s.ClientRecordSerializer(records, many=True).data
        for item in results:
            item["data"] = filters.select_fields(item["data"], query.fields)
        body = {"results": results, "next_cursor": next_cursor}
        if count is not None:
            body["count"] = count
        return Response(body)

    @extend_schema(
        operation_id="client_records_create",
        request=s.ClientWriteSerializer,
        responses={201: s.ClientRecordSerializer},
    )
    def post(self, request, collection):
        target = self.collection()
        data = valid(s.ClientWriteSerializer, request.data)["data"]
        record = services.record_create(client=self.client, collection=target, data=data)
        return Response(
            s.ClientRecordSerializer(record).data,
            status=status.HTTP_201_CREATED,
            headers=etag(record.version),
        )


@lag_tolerant
class ClientRecordDetailView(ClientDataView):
    @extend_schema(
        operation_id="client_records_get",
        responses=s.ClientRecordSerializer,
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER)],
    )
    def get(self, request, collection, record):
        row = found(
            selectors.record_get(collection=self.collection(), record_id=record, client=self.client)
        )
        return conditional_read(
            request,
            version=row.version,
            updated_at=row.updated_at,
            body=s.ClientRecordSerializer(row).data,
        )

    @extend_schema(
        operation_id="client_records_replace",
        request=s.ClientWriteSerializer,
        responses=s.ClientRecordSerializer,
    )
    def put(self, request, collection, record):
        return self._write(request, record, merge=False)

    @extend_schema(
        operation_id="client_records_patch",
        request=s.ClientWriteSerializer,
        responses=s.ClientRecordSerializer,
        description="JSON Merge Patch (RFC 7396) of data; null removes a key.",
    )
    def patch(self, request, collection, record):
        return self._write(request, record, merge=True)

    def _write(self, request, record_id, *, merge: bool) -> Response:
        target = self.collection()
        version = expected_version(request)
        data = valid(s.ClientWriteSerializer, request.data)["data"]
        row: Record = services.record_update(
            client=self.client,
            collection=target,
            record_id=record_id,
            data=data,
            merge=merge,
            expected_version=version,
        )
        headers = validators(version=row.version, updated_at=row.updated_at)
        return Response(s.ClientRecordSerializer(row).data, headers=headers)

    @extend_schema(operation_id="client_records_delete", responses={204: None})
    def delete(self, request, collection, record):
        target = self.collection()
        version = expected_version(request)
        services.record_delete(
            client=self.client, collection=target, record_id=record, expected_version=version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- documents -------------------------------------------------------------------------------
def _client_document(doc: dict) -> dict:
    """A document as client apps see it: never a developer's id."""
    return {k: v for k, v in doc.items() if k != "owner_id"}


class ClientDocumentView(ClientDataView):
    store = Store.DOCUMENTS
    api_errors = {
        **ClientDataView.api_errors,
        documents.DocumentQueryError: lambda exc: ValidationError({"query": [str(exc)]}),
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
        return documents.TenantDocuments(collection=self.collection(), client=self.client)


@lag_tolerant
class ClientDocumentListView(ClientDocumentView):
    @extend_schema(
        operation_id="client_documents_list",
        parameters=[s.DocumentListQuerySerializer],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, collection):
        query = valid(s.DocumentListQuerySerializer, request.query_params)
        repository = self.repository()
        where = query.get("filter")
        sort = documents.parse_sort(query.get("sort"))
        results = repository.find(where, sort=sort, limit=query["limit"], skip=query["skip"])
        body = {"results": [_client_document(doc) for doc in results]}
        if query["count"]:
            body["count"] = repository.count(where)
        return Response(body)

    @extend_schema(
        operation_id="client_documents_create",
        request=s.ClientWriteSerializer,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request, collection):
        repository = self.repository()
        data = valid(s.ClientWriteSerializer, request.data)["data"]
        (doc,) = repository.insert_many([data])
        return Response(
            _client_document(doc), status=status.HTTP_201_CREATED, headers=etag(doc["version"])
        )


@lag_tolerant
class ClientDocumentDetailView(ClientDocumentView):
    @extend_schema(operation_id="client_documents_get", responses=OpenApiTypes.OBJECT)
    def get(self, request, collection, document):
        doc = found(self.repository().get(document))
        return conditional_read(
            request,
            version=doc["version"],
            updated_at=_updated_at(doc),
            body=_client_document(doc),
        )

    @extend_schema(
        operation_id="client_documents_patch",
        request=s.ClientWriteSerializer,
        responses=OpenApiTypes.OBJECT,
    )
    def patch(self, request, collection, document):
        repository = self.repository()
        data = valid(s.ClientWriteSerializer, request.data)["data"]
        doc = found(
            repository.write(document, data, merge=True, expected_version=expected_version(request))
        )
        headers = validators(version=doc["version"], updated_at=_updated_at(doc))
        return Response(_client_document(doc), headers=headers)

    @extend_schema(operation_id="client_documents_delete", responses={204: None})
    def delete(self, request, collection, document):
        found(self.repository().delete(document, expected_version=expected_version(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)
