from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from tenants.models import Membership, Organization, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(GuardedModelAdmin):
    list_display = ["name", "org", "created_at"]
    list_filter = ["org"]
    search_fields = ["name"]
