from django import forms
from django.contrib import admin

from compute.models import JobRun, ScheduledJob, Webhook, WebhookDelivery
from outbound import destinations


class DestinationForm(forms.ModelForm):
    """A URL edited in the Studio passes the same destination check as one sent to the API."""

    url = forms.URLField(max_length=500, assume_scheme="https")

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            destinations.check(url)
        except destinations.Refused as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = DestinationForm
    list_display = ["url", "project", "collection", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["webhook", "event", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ScheduledJob)
class ScheduledJobAdmin(admin.ModelAdmin):
    form = DestinationForm
    list_display = ["name", "schedule", "url", "project", "enabled", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]
    exclude = ["secret", "periodic_task"]


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job", "started_at", "succeeded", "response_status", "duration_ms"]
    list_filter = ["succeeded"]
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
