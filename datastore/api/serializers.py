import json

from rest_framework import serializers

from datastore.constants import MAX_BULK, MAX_PAGE, Access, Store
from datastore.models import Collection, Record


class CollectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Collection
        fields = [
            "id",
            "name",
            "store",
            "json_schema",
            "indexes",
            "access",
            "created_at",
            "updated_at",
        ]


class CollectionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    store = serializers.ChoiceField(choices=Store.choices, default=Store.RECORDS)
    json_schema = serializers.JSONField(required=False, allow_null=True, default=None)
    indexes = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    access = serializers.ChoiceField(choices=Access.choices, default=Access.ORG)


class CollectionUpdateSerializer(serializers.Serializer):
    json_schema = serializers.JSONField(required=False, allow_null=True)
    indexes = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    access = serializers.ChoiceField(choices=Access.choices, required=False)


class RecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = Record
        fields = ["id", "data", "owner_id", "version", "created_at", "updated_at"]


class ClientRecordSerializer(RecordSerializer):
    """A record as client apps see it: the end user who wrote it, never a developer's id."""

    class Meta(RecordSerializer.Meta):
        fields = ["id", "data", "end_user_id", "version", "created_at", "updated_at"]


class RecordWriteSerializer(serializers.Serializer):
    """``{"data": {...}}``, a record's or a document's. Other keys (``org_id``,
    ``owner_id``...) are not the client's to set and are ignored."""

    data = serializers.DictField()


class ClientWriteSerializer(RecordWriteSerializer):
    """A client app's write: ``{"data": {...}}`` and nothing else. Who owns the row, its org
    and project are the server's to say, so naming them is an error, not a no-op."""

    def validate(self, attrs):
        given = self.initial_data if isinstance(self.initial_data, dict) else {}
        extra = sorted(set(given) - {"data"})
        if extra:
            raise serializers.ValidationError(
                {key[:60]: "Not allowed: a client write sends only data." for key in extra[:10]}
            )
        return attrs


class RecordBulkSerializer(serializers.Serializer):
    """``{"items": [{...}, ...]}``: several records or documents in one write."""

    items = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_BULK)


class RecordPageSerializer(serializers.Serializer):
    results = RecordSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    count = serializers.IntegerField(required=False)


class DocumentListQuerySerializer(serializers.Serializer):
    """The query string of a documents list (``filter`` is Mongo-style JSON)."""

    filter = serializers.CharField(required=False, max_length=20_000)
    sort = serializers.CharField(required=False, max_length=400)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=20)
    skip = serializers.IntegerField(required=False, min_value=0, max_value=100_000, default=0)
    count = serializers.BooleanField(required=False, default=False)

    def validate_filter(self, text: str):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise serializers.ValidationError("Not valid JSON.") from None


class DocumentAggregateSerializer(serializers.Serializer):
    pipeline = serializers.ListField(child=serializers.DictField(), max_length=20)


class DocumentIndexSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.ListField(), min_length=1, max_length=8)
    unique = serializers.BooleanField(required=False, default=False)
