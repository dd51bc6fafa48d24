from rest_framework import serializers

from datastore.constants import Access, Store
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


class RecordWriteSerializer(serializers.Serializer):
    """``{"data": {...}}``. Other keys (``org_id``, ``owner_id``...) are not the client's to
    set and are ignored."""

    data = serializers.DictField()


class RecordBulkSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=500)


class RecordPageSerializer(serializers.Serializer):
    results = RecordSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    count = serializers.IntegerField(required=False)
