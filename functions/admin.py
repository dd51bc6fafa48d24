"""The Studio's pages for functions: read-only (deploys go through the API's sandbox check)."""

from django.contrib import admin

from functions.models import Function, FunctionVersion, Invocation


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class VersionInline(admin.TabularInline):
    model = FunctionVersion
    fields = ["number", "source_hash", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Function)
class FunctionAdmin(ReadOnly):
    list_display = ["name", "project", "org", "active_version", "timeout_seconds", "updated_at"]
    list_filter = ["org"]
    search_fields = ["name"]
    # env holds secrets: never shown.
    exclude = ["env"]
    inlines = [VersionInline]


@admin.register(FunctionVersion)
class FunctionVersionAdmin(ReadOnly):
    list_display = ["function", "number", "source_hash", "created_at"]
    list_filter = ["org"]


@admin.register(Invocation)
class InvocationAdmin(ReadOnly):
    list_display = [
        "function", "trigger", "status", "exit_reason", "duration_ms", "cpu_ms",
        "peak_memory_bytes", "created_at",
    ]  # fmt: skip
    list_filter = ["exit_reason", "trigger", "org"]
    search_fields = ["request_id"]
