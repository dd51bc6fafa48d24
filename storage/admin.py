from django.contrib import admin

from storage.models import Bucket, StoredObject


@admin.register(Bucket)
class BucketAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "public", "inline_delivery", "max_file_size", "created_at"]
    list_filter = ["public", "inline_delivery"]
    search_fields = ["name"]


@admin.register(StoredObject)
class StoredObjectAdmin(admin.ModelAdmin):
    list_display = ["key", "bucket", "size", "content_type", "updated_at"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in StoredObject._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
