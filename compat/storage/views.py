"""Supabase Storage's API (``/storage/v1/``, as ``@supabase/storage-js`` calls it) over the
storage app: its buckets and objects, its services (the access rules decide in PostgreSQL),
its delivery (ETag, Range, cache and sandbox headers) and its signed tokens.

A Supabase bucket's ``id`` is the bucket's name. Signed download URLs, signed upload URLs and
public URLs take no key (``endusers.identity.KEYLESS``): the token or the bucket's public flag
is the authorization. Every error is ``{"statusCode", "error", "message"}``
(``compat.errors.storage_body``). The routes are Supabase's wire protocol, documented by
Supabase and ``docs/storage-compat.md``, so they stay out of the platform's OpenAPI schema.
"""

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.utils.http import content_disposition_header
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from access.constants import SERVICE_ROLE
from compat.errors import storage_body
from compat.storage import serializers as s
from endusers.api.base import ClientView
from endusers.identity import is_keyless
from platform_site.errors import api_exception_handler
from platform_site.parsers import JSONBodyParser
from storage import delivery, selectors, services
from storage.api.uploads import form_upload, raw_upload
from tenants.api.base import valid
from tenants.context import tenant_context


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "Duplicate"
    default_detail = "The resource already exists."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "Payload too large"
    default_detail = "The object exceeded the maximum allowed size."


class InvalidSignature(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "InvalidSignature"
    default_detail = "The signature of this URL is invalid."


def _flatten(details, prefix: str = "") -> list[str]:
    if isinstance(details, dict):
        return [m for key, value in details.items() for m in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(details, list):
        return [m for value in details for m in _flatten(value, prefix)]
    return [f"{prefix}{details}"]


def storage_exception_handler(exc, context):
    """The platform's handler (rollback, Django's exceptions, DRF's), in Storage's shape."""
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    error = response.data["error"]
    message = error["message"]
    if error["details"]:
        message = f"{message.rstrip('.')}: {'; '.join(_flatten(error['details']))}"
    response.data = storage_body(response.status_code, error["code"], message)
    return response


class ClientOrKeyless(BasePermission):
    """A client app; or none on the paths whose token or public flag is the authorization."""

    def has_permission(self, request, view) -> bool:
        if getattr(request._request, "client", None) is not None:
            return True
        return is_keyless(request.method, request._request.path_info)


def bucket_not_found(exc=None):
    return exceptions.NotFound("Bucket not found")


@extend_schema(exclude=True)
class StorageView(ClientView):
    permission_classes = [ClientOrKeyless]
    parser_classes = [JSONBodyParser]
    api_errors = {
        **ClientView.api_errors,
        services.ObjectExists: lambda exc: Conflict(),
        services.BucketNotEmpty: lambda exc: Conflict(
            "The bucket you tried to delete is not empty.", "InvalidRequest"
        ),
        services.FileTooLarge: lambda exc: PayloadTooLarge(exc.messages[0]),
        services.SignatureExpired: lambda exc: InvalidSignature("This URL has expired."),
        signing.BadSignature: lambda exc: InvalidSignature(),
        services.BadToken: lambda exc: InvalidSignature(),
    }

    def get_exception_handler(self):
        return storage_exception_handler

    def bucket(self, name: str | None = None):
        """The caller's project's bucket (a 404 for any other)."""
        name = name or self.kwargs["bucket"]
        bucket = selectors.bucket_get(project=self.client.project, name=name)
        if bucket is None:
            raise bucket_not_found()
        return bucket

    def visible_bucket(self):
        """A bucket the caller is shown (``selectors.client_bucket_list``)."""
        buckets = selectors.client_bucket_list(client=self.client)
        bucket = buckets.filter(name=self.kwargs["bucket"]).first()
        if bucket is None:
            raise bucket_not_found()
        return bucket

    def object(self, bucket, key: str):
        """An object the caller's "select" rule shows it (a 404 for any other)."""
        obj = selectors.object_get(bucket=bucket, key=key)
        if obj is None:
            raise exceptions.NotFound("Object not found")
        return obj

    def refuse_unless(self, bucket, operation: str) -> None:
        if not selectors.client_rule_opens(client=self.client, bucket=bucket, operation=operation):
            raise PermissionDenied(f"The access rules do not allow '{operation}' on this bucket.")


def _object_path(bucket, key: str) -> str:
    return f"{bucket.name}/{key}"


# --- buckets ------------------------------------------------------------------------------
def _bucket_settings(data: dict) -> dict:
    settings = {}
    if "public" in data:
        settings["public"] = data["public"]
    if "file_size_limit" in data:
        settings["max_file_size"] = data["file_size_limit"]
    if "allowed_mime_types" in data:
        settings["allowed_content_types"] = data["allowed_mime_types"]
    return settings


class BucketsView(StorageView):
    def get(self, request):
        buckets = selectors.client_bucket_list(client=self.client)
        search = request.query_params.get("search", "")[:63]
        if search:
            buckets = buckets.filter(name__icontains=search)
        column = request.query_params.get("sortColumn", "name")
        column = column if column in ("name", "created_at") else "name"
        if request.query_params.get("sortOrder") == "desc":
            column = f"-{column}"
        offset, limit = _window(request.query_params)
        return Response([s.bucket_json(b) for b in buckets.order_by(column)[offset:limit]])

    def post(self, request):
        data = valid(s.BucketInput, request.data)
        name = data.get("id") or data.get("name")
        if not name:
            raise exceptions.ValidationError({"id": "The bucket's id (its name) is required."})
        if self.client.role == SERVICE_ROLE and selectors.bucket_get(
            project=self.client.project, name=name
        ):
            raise Conflict("The bucket already exists.")
        bucket = services.client_bucket_create(
            client=self.client, name=name, **_bucket_settings(data)
        )
        return Response({"name": bucket.name})


def _window(params) -> tuple[int, int]:
    """(offset, end) of ``limit`` and ``offset`` query parameters."""
    try:
        offset = max(0, int(params.get("offset", 0)))
        limit = min(1000, max(1, int(params.get("limit", 1000))))
    except ValueError:
        raise exceptions.ValidationError("limit and offset are numbers.") from None
    return offset, offset + limit


class BucketView(StorageView):
    def get(self, request, bucket):
        return Response(s.bucket_json(self.visible_bucket()))

    def put(self, request, bucket):
        data = valid(s.BucketInput, request.data)
        services.client_bucket_update(
            client=self.client, bucket=self.bucket(), **_bucket_settings(data)
        )
        return Response({"message": "Successfully updated"})

    def delete(self, request, bucket):
        services.client_bucket_delete(client=self.client, bucket=self.bucket())
        return Response({"message": "Successfully deleted"})


class BucketEmptyView(StorageView):
    def post(self, request, bucket):
        services.client_bucket_empty(client=self.client, bucket=self.bucket())
        return Response({"message": "Successfully emptied"})


# --- objects ------------------------------------------------------------------------------
def _upsert(request) -> bool:
    return request.headers.get("x-upsert", "").lower() == "true"


def _upload(view, bucket, key: str, *, upsert: bool, client=None):
    """Store the request's file (a multipart form's, or the raw body with its type)."""
    services.clean_key(key)
    request = view.request._request
    if request.content_type == "multipart/form-data":
        upload = form_upload(request, bucket)
    else:
        upload = raw_upload(request, bucket, key)
    with upload:
        obj, _ = services.client_object_put(
            client=client or view.client, bucket=bucket, key=key, upload=upload, upsert=upsert
        )
    return Response({"Id": str(obj.pk), "Key": _object_path(bucket, key)})


def _serve(request, obj, cache_control: str):
    response = delivery.serve(request._request, obj, cache_control=cache_control)
    download = request.query_params.get("download")
    if download is not None and response.status_code in (200, 206):
        name = download or obj.key.rsplit("/", 1)[-1]
        response["Content-Disposition"] = content_disposition_header(True, name)
    return response


class ObjectView(StorageView):
    """``/object/<bucket>/<key>``: upload (POST, ``x-upsert``), update (PUT), download (GET,
    HEAD: the caller's rules, or a public bucket), delete."""

    def post(self, request, bucket, key):
        return _upload(self, self.bucket(), key, upsert=_upsert(request))

    def put(self, request, bucket, key):
        return _upload(self, self.bucket(), key, upsert=True)

    def get(self, request, bucket, key):
        found = self.bucket()
        obj = selectors.object_get(bucket=found, key=key)
        if obj is None:  # public buckets stay public for downloads, rules or not
            obj = selectors.public_object(bucket=found, key=key)
            if obj is None:
                raise exceptions.NotFound("Object not found")
            return _serve(request, obj, f"public, max-age={services.public_cache_seconds()}")
        return _serve(request, obj, "private, no-cache")

    def delete(self, request, bucket, key):
        found = self.bucket()
        obj = self.object(found, key)
        services.client_object_delete(client=self.client, obj=obj)
        return Response([s.removed_json(obj, found)])


class ObjectsView(StorageView):
    """``DELETE /object/<bucket> {prefixes}``: the objects deleted (others are left)."""

    def delete(self, request, bucket):
        data = valid(s.RemoveInput, request.data)
        found = self.bucket()
        deleted = services.client_objects_delete(
            client=self.client, bucket=found, keys=data["prefixes"]
        )
        return Response([s.removed_json(obj, found) for obj in deleted])


class ListView(StorageView):
    def post(self, request, bucket):
        data = valid(s.ListInput, request.data)
        found = self.bucket()
        self.refuse_unless(found, "select")
        prefix = data["prefix"].strip("/")
        sort = data.get("sortBy") or {"column": "name", "order": "asc"}
        column = "updated_at" if sort["column"] == "last_accessed_at" else sort["column"]
        entries = selectors.object_folder(
            bucket=found, folder=f"{prefix}/" if prefix else "", search=data["search"],
            limit=data["limit"], offset=data["offset"], sort=column,
            descending=sort["order"].lower() == "desc",
        )  # fmt: skip
        return Response([s.entry_json(entry) for entry in entries])


class MoveView(StorageView):
    def post(self, request):
        data = valid(s.MoveInput, request.data)
        source = self.bucket(data["bucketId"])
        if data.get("destinationBucket") not in (None, source.name):
            raise exceptions.ValidationError(
                {"destinationBucket": "Objects move within their bucket; copy to another one."}
            )
        obj = self.object(source, data["sourceKey"])
        services.client_object_move(client=self.client, obj=obj, key=data["destinationKey"])
        return Response({"message": "Successfully moved"})


class CopyView(StorageView):
    def post(self, request):
        data = valid(s.MoveInput, request.data)
        source = self.bucket(data["bucketId"])
        destination = self.bucket(data.get("destinationBucket") or source.name)
        obj = self.object(source, data["sourceKey"])
        copy = services.client_object_copy(
            client=self.client, obj=obj, bucket=destination, key=data["destinationKey"],
            upsert=_upsert(request),
        )  # fmt: skip
        return Response({"Id": str(copy.pk), "Key": _object_path(destination, copy.key)})


class InfoView(StorageView):
    def get(self, request, bucket, key):
        found = self.bucket()
        return Response(s.info_json(self.object(found, key), found))


class AuthenticatedView(ObjectView):
    http_method_names = ["get", "head", "options"]


# --- signed and public URLs ---------------------------------------------------------------
class SignView(StorageView):
    """``POST``: a signed URL of an object the caller sees; ``GET ?token=``: its bytes."""

    def post(self, request, bucket, key):
        data = valid(s.SignInput, request.data)
        found = self.bucket()
        obj = self.object(found, key)
        token = services.client_signed_token(
            client=self.client, obj=obj, expires_in=data["expiresIn"]
        )
        return Response({"signedURL": f"/object/sign/{_object_path(found, key)}?token={token}"})

    def get(self, request, bucket, key):
        obj, cache_control = services.signed_object(request.query_params.get("token", ""))
        if obj.bucket.name != bucket or obj.key != key:
            raise InvalidSignature("This URL was signed for another object.")
        return _serve(request, obj, cache_control)


class SignManyView(StorageView):
    def post(self, request, bucket):
        data = valid(s.SignManyInput, request.data)
        found = self.bucket()
        objects = {o.key: o for o in selectors.objects_at(bucket=found, keys=data["paths"])}
        signed = []
        for path in data["paths"]:
            obj = objects.get(path)
            if obj is None:
                signed.append({"error": "Either the object does not exist or you do not have "
                               "access to it", "path": path, "signedURL": None})  # fmt: skip
                continue
            token = services.client_signed_token(
                client=self.client, obj=obj, expires_in=data["expiresIn"]
            )
            url = f"/object/sign/{_object_path(found, path)}?token={token}"
            signed.append({"error": None, "path": path, "signedURL": url})
        return Response(signed)


class UploadSignView(StorageView):
    """``POST``: a URL one upload to the key may use, as the caller; ``PUT ?token=``: that
    upload, by whoever holds the URL."""

    def post(self, request, bucket, key):
        found = self.bucket()
        token = services.client_upload_token(
            client=self.client, bucket=found, key=key, upsert=_upsert(request)
        )
        url = f"/object/upload/sign/{_object_path(found, key)}?token={token}"
        return Response({"url": url, "token": token})

    def put(self, request, bucket, key):
        try:
            grant = services.read_upload_token(request.query_params.get("token", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise services.BadToken from exc
        if grant.key != key:
            raise InvalidSignature("This URL was signed for another object.")
        with tenant_context(grant.tenant_context()):
            found = selectors.bucket_by_id(bucket_id=grant.bucket_id)
            if found is None or found.name != bucket:
                raise InvalidSignature("This URL was signed for another object.")
            return _upload(self, found, key, upsert=grant.upsert, client=grant)


class PublicView(StorageView):
    """A public bucket's object, for anyone: the project is the key's or, without a key, the
    one the URL names (``/p/<ref>/storage/v1/...``)."""

    def get(self, request, bucket, key):
        if self.client is not None:
            found = selectors.bucket_get(project=self.client.project, name=bucket)
        elif request._request.client_ref is not None:
            found = selectors.public_bucket(project_ref=request._request.client_ref, name=bucket)
        else:
            raise exceptions.NotFound(
                "Bucket not found: a public URL without a key names its project; use the "
                "project's URL (<platform>/p/<ref>) as the client's URL, or send the apikey."
            )
        obj = selectors.public_object(bucket=found, key=key) if found is not None else None
        if obj is None:
            raise exceptions.NotFound("Object not found")
        return _serve(request, obj, f"public, max-age={services.public_cache_seconds()}")
