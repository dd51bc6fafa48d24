"""Supabase Storage's request bodies and answers, over the storage app's buckets and objects."""

import re

from rest_framework import serializers

from storage.api.serializers import BUCKET_NAME, CONTENT_TYPE_RULE, MAX_FILE_SIZE

# "20MB", "1.5 GB", 1024: Supabase takes a byte count or a size with a unit.
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
UNITS = {None: 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


class FileSizeField(serializers.Field):
    def to_internal_value(self, data):
        match = SIZE.match(str(data)) if isinstance(data, int | float | str) else None
        if match is None or isinstance(data, bool):
            raise serializers.ValidationError("A number of bytes, or a size such as '20MB'.")
        size = int(float(match[1]) * UNITS[(match[2] or "").lower() or None])
        if not 1 <= size <= MAX_FILE_SIZE:
            raise serializers.ValidationError(f"Between 1 byte and {MAX_FILE_SIZE} bytes.")
        return size


class BucketInput(serializers.Serializer):
    """``createBucket``/``updateBucket``: ``id`` (and ``name``) is the bucket's name."""

    id = serializers.RegexField(BUCKET_NAME, required=False)
    name = serializers.RegexField(BUCKET_NAME, required=False)
    public = serializers.BooleanField(required=False, allow_null=True)
    file_size_limit = FileSizeField(required=False, allow_null=True)
    allowed_mime_types = serializers.ListField(
        child=serializers.RegexField(CONTENT_TYPE_RULE),
        required=False,
        allow_null=True,
        max_length=50,
    )
    type = serializers.ChoiceField(["STANDARD"], required=False, allow_null=True)


class SortBy(serializers.Serializer):
    column = serializers.ChoiceField(
        ["name", "created_at", "updated_at", "last_accessed_at"], default="name"
    )
    order = serializers.ChoiceField(["asc", "desc", "ASC", "DESC"], default="asc")


class ListInput(serializers.Serializer):
    prefix = serializers.CharField(
        allow_blank=True, max_length=500, default="", trim_whitespace=False
    )
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=100_000, default=0)
    search = serializers.CharField(allow_blank=True, max_length=200, default="")
    sortBy = SortBy(required=False)


class MoveInput(serializers.Serializer):
    bucketId = serializers.CharField(max_length=63)
    sourceKey = serializers.CharField(max_length=500, trim_whitespace=False)
    destinationKey = serializers.CharField(max_length=500, trim_whitespace=False)
    destinationBucket = serializers.CharField(max_length=63, required=False, allow_null=True)


class SignInput(serializers.Serializer):
    expiresIn = serializers.IntegerField(min_value=1, max_value=7 * 24 * 3600)


class SignManyInput(SignInput):
    paths = serializers.ListField(
        child=serializers.CharField(max_length=500, trim_whitespace=False),
        min_length=1,
        max_length=1000,
    )


class RemoveInput(serializers.Serializer):
    prefixes = serializers.ListField(
        child=serializers.CharField(max_length=500, trim_whitespace=False),
        min_length=1,
        max_length=1000,
    )


def bucket_json(bucket) -> dict:
    created = bucket.created_at.isoformat()
    return {
        "id": bucket.name,
        "name": bucket.name,
        "owner": "",
        "public": bucket.public,
        "type": "STANDARD",
        "file_size_limit": bucket.max_file_size,
        "allowed_mime_types": bucket.allowed_content_types or None,
        "created_at": created,
        "updated_at": created,
    }


def metadata_json(obj) -> dict:
    return {
        "eTag": f'"{obj.sha256}"',
        "size": obj.size,
        "mimetype": obj.content_type,
        "cacheControl": "no-cache",
        "lastModified": obj.updated_at.isoformat(),
        "contentLength": obj.size,
        "httpStatusCode": 200,
    }


def entry_json(entry) -> dict:
    """A line of ``list``: a file, or a folder (everything but the name null)."""
    obj = entry.obj
    if obj is None:
        return dict.fromkeys(
            ("id", "updated_at", "created_at", "last_accessed_at", "metadata"), None
        ) | {"name": entry.name}
    return {
        "name": entry.name,
        "id": str(obj.pk),
        "updated_at": obj.updated_at.isoformat(),
        "created_at": obj.created_at.isoformat(),
        "last_accessed_at": obj.updated_at.isoformat(),
        "metadata": metadata_json(obj),
    }


def removed_json(obj, bucket) -> dict:
    return {
        "name": obj.key,
        "id": str(obj.pk),
        "bucket_id": bucket.name,
        "owner": str(obj.end_user_id) if obj.end_user_id else "",
        "updated_at": obj.updated_at.isoformat(),
        "created_at": obj.created_at.isoformat(),
        "last_accessed_at": obj.updated_at.isoformat(),
        "metadata": metadata_json(obj),
    }


def info_json(obj, bucket) -> dict:
    return {
        "id": str(obj.pk),
        "version": obj.sha256,
        "name": obj.key,
        "bucket_id": bucket.name,
        "created_at": obj.created_at.isoformat(),
        "last_modified": obj.updated_at.isoformat(),
        "updated_at": obj.updated_at.isoformat(),
        "size": obj.size,
        "content_type": obj.content_type,
        "cache_control": "no-cache",
        "etag": f'"{obj.sha256}"',
        "metadata": {},
    }
