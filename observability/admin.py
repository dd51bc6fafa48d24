"""Studio pages: error groups (24 h), alerts (recent first, acknowledge), rules, channels."""

from django import forms
from django.contrib import admin

from observability import services
from observability.constants import ChannelKind
from observability.models import Alert, AlertChannel, AlertDelivery, AlertRule, ErrorGroup
from outbound import destinations


@admin.register(ErrorGroup)
class ErrorGroupAdmin(admin.ModelAdmin):
    list_display = ["exc_type", "location", "source", "count", "first_seen", "last_seen"]
    list_filter = ["source"]
    search_fields = ["exc_type", "location", "message", "sample_request_id"]
    readonly_fields = [f.name for f in ErrorGroup._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).using("owner")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["dedup_key", "state", "severity", "org", "started_at", "escalation_level"]
    list_filter = ["state", "severity"]
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge (stops escalation)")
    def acknowledge(self, request, queryset):
        for alert in queryset:
            services.alert_acknowledge(alert=alert, actor=request.user)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "org", "severity", "threshold", "window_minutes", "enabled"]


class AlertChannelForm(forms.ModelForm):
    """A target edited in the Studio passes the same destination check as one sent to the API."""

    def clean(self):
        data = super().clean()
        if data.get("kind") not in (None, ChannelKind.EMAIL) and data.get("target"):
            try:
                destinations.check(data["target"])
            except destinations.Refused as exc:
                self.add_error("target", str(exc))
        return data


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    form = AlertChannelForm
    list_display = ["name", "kind", "org", "min_severity", "escalation_level", "enabled"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ["at", "channel", "action", "ok", "status_code"]
    list_filter = ["ok", "action"]
