"""Every write made through the Studio's admin pages records one audit event.

``StudioAdminSite.register`` puts ``AuditedAdmin`` in front of each ModelAdmin registered on
the site, the platform's and the libraries' (django-celery-beat's periodic tasks), so an add,
change or deletion through any admin page is audited in the same transaction as the write,
next to the admin's own ``LogEntry``. Admin actions that call a service (revoke sessions,
deactivate users, acknowledge alerts) are audited by that service.
"""

from authn.audit import audit_record
from authn.constants import AuditAction


class AuditedAdmin:
    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        _audit(request, AuditAction.STUDIO_ADD, obj, message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        _audit(request, AuditAction.STUDIO_CHANGE, obj, message)
        return entry

    def log_deletions(self, request, queryset):
        objects = list(queryset)  # called before the deletion, read once
        entries = super().log_deletions(request, objects)
        for obj in objects:
            _audit(request, AuditAction.STUDIO_DELETE, obj, "")
        return entries


def audited(admin_class: type) -> type:
    """``admin_class`` with ``AuditedAdmin`` first in its bases (once)."""
    if issubclass(admin_class, AuditedAdmin):
        return admin_class
    namespace = {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__}
    return type(admin_class.__name__, (AuditedAdmin, admin_class), namespace)


def _audit(request, action: str, obj, message) -> None:
    org_id = obj.pk if obj._meta.label_lower == "tenants.organization" else None
    audit_record(
        action=action,
        actor_id=request.user.pk,
        org_id=getattr(obj, "org_id", None) or org_id,
        target_type=obj._meta.label_lower[:32],
        target_id=str(obj.pk)[:64],
        metadata={"change": message} if message else None,
    )
