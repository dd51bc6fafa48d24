"""Studio pages for data: backup runs (read-only) and the database browser."""

from django.contrib import admin

from datastore.models import BackupRun


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    list_display = ["id", "started_at", "status", "verified", "size_bytes", "mongo_documents"]
    list_filter = ["status", "verified"]
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
