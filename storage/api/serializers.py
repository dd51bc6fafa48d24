from django.urls import reverse
from rest_framework import serializers

from storage import delivery
from storage.models import Bucket, StoredObject


class BucketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bucket
        fields = [
            "id", "name", "public", "inline_delivery", "max_file_size", "allowed_content_types",
            "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]


BUCKET_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
CONTENT_TYPE_RULE = r"^[\w.+-]+/(\*|[\w.+-]+)$"  # type/subtype or type/*
MAX_FILE_SIZE = 5 * 1024**3


class BucketInputSerializer(serializers.Serializer):
    name = serializers.RegexField(BUCKET_NAME)
    public = serializers.BooleanField(required=False, default=False)
    inline_delivery = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Let HTML, SVG and other active types display in the browser instead of "
        "downloading; only on STORAGE_DELIVERY_ORIGIN, and always sandboxed.",
    )
    max_file_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_FILE_SIZE)
    allowed_content_types = serializers.ListField(
        child=serializers.RegexField(CONTENT_TYPE_RULE), required=False, max_length=50
    )


class ObjectSerializer(serializers.ModelSerializer):
    public_url = serializers.SerializerMethodField()

    class Meta:
        model = StoredObject
        fields = ["id", "key", "size", "content_type", "sha256", "public_url", "updated_at"]

    def get_public_url(self, obj) -> str | None:
        if not obj.bucket.public:
            return None
        path = reverse("storage-public", args=[obj.org_id, obj.bucket_id, obj.key])
        return delivery.object_url(self.context["request"], path)


class UploadSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=500)
    file = serializers.FileField()


class SignInputSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=500)
    expires_in = serializers.IntegerField(min_value=1, max_value=7 * 24 * 3600, default=3600)


class SignedUrlSerializer(serializers.Serializer):
    url = serializers.CharField()
    expires_in = serializers.IntegerField()
