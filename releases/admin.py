"""Release records in the admin: viewable, never added, changed or deleted there.

Every release record is made by a signed service (releases/services/); the admin
is a window for administrators and auditors, not a way around the workflow.
"""

from django.contrib import admin

from qc.admin import ViewOnlyAdmin
from releases.models import (
    AuditTrailReview,
    Certificate,
    Disposition,
    Investigation,
    InvestigationEntry,
    Notification,
    RecallDecision,
    ResultReview,
)


@admin.register(Disposition)
class DispositionAdmin(ViewOnlyAdmin):
    list_display = ("lot", "decision", "decided_at", "reason")
    list_filter = ("decision",)
    search_fields = ("lot__lot_number", "reason")


@admin.register(Investigation)
class InvestigationAdmin(ViewOnlyAdmin):
    list_display = ("number", "kind", "lot", "phase", "opened_at", "closed_at")
    list_filter = ("kind", "phase")
    search_fields = ("number", "lot__lot_number", "summary")


@admin.register(InvestigationEntry)
class InvestigationEntryAdmin(ViewOnlyAdmin):
    list_display = ("investigation", "entry_type", "recorded_at", "recorded_by")


@admin.register(Certificate)
class CertificateAdmin(ViewOnlyAdmin):
    list_display = ("lot", "version", "issued_at")


@admin.register(AuditTrailReview, ResultReview, RecallDecision, Notification)
class ReleaseRecordAdmin(ViewOnlyAdmin):
    pass
