"""Studio pages for data: backup runs (read-only) and the database browser."""

from django.contrib import admin
from django.urls import path

from datastore import browser
from datastore.models import BackupRun, Collection


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    list_display = ["id", "started_at", "status", "verified", "size_bytes", "mongo_documents"]
    list_filter = ["status", "verified"]
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    """Collections, with the database browser at /studio/datastore/collection/browser/."""

    list_display = ["name", "store", "access", "project", "created_at"]
    list_filter = ["store", "access"]
    search_fields = ["name"]
    readonly_fields = ["org", "project", "name", "store", "created_at", "updated_at"]

    def get_urls(self):
        custom = [
            path(
                "browser/",
                self.admin_site.admin_view(browser.browse),
                name="datastore_browser",
            )
        ]
        return custom + super().get_urls()

    def has_add_permission(self, request) -> bool:
        return False
