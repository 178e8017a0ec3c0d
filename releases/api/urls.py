"""Release routes, included under /api/v1/ by services/api/urls.py."""

from django.urls import URLPattern, URLResolver, path

from releases.api import certificates, history, investigations, lots, notifications

_LOT = "lots/<str:lot_number>/"
_INV = "investigations/<str:number>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("releases/", history.ReleaseHistoryView.as_view(), name="release-history"),
    path(f"{_LOT}approve/", lots.ApproveView.as_view(), name="lot-approve"),
    path(f"{_LOT}release/", lots.ReleaseView.as_view(), name="lot-release"),
    path(
        f"{_LOT}conditional-release/",
        lots.ConditionalReleaseView.as_view(),
        name="lot-conditional-release",
    ),
    path(f"{_LOT}finalise/", lots.FinaliseView.as_view(), name="lot-finalise"),
    path(f"{_LOT}reject/", lots.RejectView.as_view(), name="lot-reject"),
    path(f"{_LOT}hold/", lots.HoldView.as_view(), name="lot-hold"),
    path(f"{_LOT}release-hold/", lots.ReleaseHoldView.as_view(), name="lot-release-hold"),
    path(
        f"{_LOT}audit-trail-review/",
        lots.AuditTrailReviewView.as_view(),
        name="lot-audit-trail-review",
    ),
    path(f"{_LOT}result-review/", lots.ResultReviewView.as_view(), name="lot-result-review"),
    path(f"{_LOT}recall-decision/", lots.RecallDecisionView.as_view(), name="lot-recall-decision"),
    path(f"{_LOT}dispositions/", lots.DispositionListView.as_view(), name="lot-dispositions"),
    path(
        f"{_LOT}release-checklist/",
        lots.ReleaseChecklistView.as_view(),
        name="lot-release-checklist",
    ),
    path(f"{_LOT}certificate.pdf", certificates.CertificatePdfView.as_view(), name="lot-coa-pdf"),
    path(
        f"{_LOT}certificate.json",
        certificates.CertificateJsonView.as_view(),
        name="lot-coa-json",
    ),
    path(f"{_LOT}certificates/", certificates.CertificateListView.as_view(), name="lot-coa-list"),
    path(
        f"{_LOT}certificate/correct/",
        certificates.CertificateCorrectionView.as_view(),
        name="lot-coa-correct",
    ),
    path(
        "investigations/",
        investigations.InvestigationListView.as_view(),
        name="investigation-list",
    ),
    path(_INV, investigations.InvestigationDetailView.as_view(), name="investigation-detail"),
    path(f"{_INV}entries/", investigations.EntriesView.as_view(), name="investigation-entries"),
    path(
        f"{_INV}phase-one-conclusion/",
        investigations.PhaseOneConclusionView.as_view(),
        name="investigation-phase-one",
    ),
    path(
        f"{_INV}invalidate-result/",
        investigations.InvalidateResultView.as_view(),
        name="investigation-invalidate-result",
    ),
    path(
        f"{_INV}allow-retest/",
        investigations.AllowRetestView.as_view(),
        name="investigation-allow-retest",
    ),
    path(
        f"{_INV}phase-two/", investigations.PhaseTwoView.as_view(), name="investigation-phase-two"
    ),
    path(f"{_INV}conclude/", investigations.ConcludeView.as_view(), name="investigation-conclude"),
    path(
        f"{_INV}attachments/",
        investigations.AttachmentsView.as_view(),
        name="investigation-attachments",
    ),
    path(
        f"{_INV}attachments/<int:pk>/",
        investigations.AttachmentDownloadView.as_view(),
        name="investigation-attachment",
    ),
    path("notifications/", notifications.NotificationListView.as_view(), name="notification-list"),
    path(
        "notifications/read-all/",
        notifications.NotificationReadView.as_view(),
        name="notification-read-all",
    ),
    path(
        "notifications/<int:pk>/read/",
        notifications.NotificationReadView.as_view(),
        name="notification-read",
    ),
]
