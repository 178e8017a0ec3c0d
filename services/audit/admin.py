from django.contrib import admin

from services.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is never edited, not even by an administrator."""

    list_display = ("sequence", "occurred_at", "actor_name", "action", "object_type", "object_id")
    list_filter = ("action", "object_type", "actor_type")
    search_fields = ("object_id", "actor_name", "reason", "request_id")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
