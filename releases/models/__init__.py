"""Release records: investigations, dispositions, reviews, certificates, notifications."""

from releases.models.certificates import (
    Certificate,
    CertificateCorrection,
    Notification,
    NotificationKind,
)
from releases.models.dispositions import (
    RELEASING_DECISIONS,
    UNSIGNED_DECISIONS,
    AuditTrailReview,
    Decision,
    Disposition,
    RecallDecision,
    ResultReview,
)
from releases.models.investigations import (
    BLOCKING_KINDS,
    PHASED_KINDS,
    Conclusion,
    EntryType,
    Investigation,
    InvestigationAttachment,
    InvestigationEntry,
    InvestigationKind,
    InvestigationPhase,
    ResultInvalidation,
)

__all__ = [
    "BLOCKING_KINDS",
    "PHASED_KINDS",
    "RELEASING_DECISIONS",
    "UNSIGNED_DECISIONS",
    "AuditTrailReview",
    "Certificate",
    "CertificateCorrection",
    "Conclusion",
    "Decision",
    "Disposition",
    "EntryType",
    "Investigation",
    "InvestigationAttachment",
    "InvestigationEntry",
    "InvestigationKind",
    "InvestigationPhase",
    "Notification",
    "NotificationKind",
    "RecallDecision",
    "ResultInvalidation",
    "ResultReview",
]
