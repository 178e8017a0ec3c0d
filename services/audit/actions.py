"""Every action the system writes to the audit trail, in one enum (Zulip's AuditLogEventType).

An audit action is never built at run time from a string: a reader of the trail,
a filter in the auditor's UI or a release guard can rely on this list being the
whole vocabulary (21 CFR 11.10(e): the trail must be complete and legible).
Values are ``<object>.<what happened>``; they are stored as text, so history
written before a rename keeps its meaning.
"""

from __future__ import annotations

from django.db import models


class AuditAction(models.TextChoices):
    # People and machine clients (who may sign, 21 CFR 11.10(d), 11.300).
    USER_CREATED = "user.created", "Account created"
    # Written before each change had its own action (kept: stored history keeps its meaning).
    USER_UPDATED = "user.updated", "Account changed"
    USER_ROLE_CHANGED = "user.role_changed", "Role changed"
    USER_DETAILS_CHANGED = "user.details_changed", "Name or e-mail changed"
    USER_DEACTIVATED = "user.deactivated", "Account deactivated"
    USER_REACTIVATED = "user.reactivated", "Account reactivated"
    USER_PASSWORD_RESET = "user.password_reset", "Password reset (set-password link issued)"
    USER_PASSWORD_SET = "user.password_set", "Password set by its owner"
    USER_LOGIN = "user.login", "Signed in"
    USER_LOGOUT = "user.logout", "Signed out"
    USER_SESSION_ENDED = "user.session_ended", "Session ended (account locked or deactivated)"
    USER_LOGIN_FAILED = "user.login_failed", "Sign-in failed"
    USER_SIGNATURE_FAILED = "user.signature_failed", "Signature attempt failed"
    USER_LOCKED = "user.locked", "Account locked (for one client address)"
    USER_UNLOCKED = "user.unlocked", "Account unlocked"
    API_CLIENT_CREATED = "api_client.created", "Machine client created"
    API_CLIENT_CHANGED = "api_client.changed", "Machine client changed"
    API_CLIENT_REVOKED = "api_client.revoked", "Machine client revoked"
    SIGNATURE_APPLIED = "signature.applied", "Electronic signature applied"

    # The audit trail itself: who exported what, and checks of the hash chain.
    AUDIT_EXPORTED = "audit.exported", "Records exported"
    AUDIT_CHAIN_VERIFIED = "audit.chain_verified", "Audit-trail chain verified"
    AUDIT_RECORDS_BOUND = "audit.records_bound", "Earlier records bound to the chain"

    # Master data (changed in the admin with a reason).
    PRODUCT_CREATED = "product.created", "Product created"
    PRODUCT_CHANGED = "product.changed", "Product changed"
    TEST_METHOD_CREATED = "test_method.created", "Test method created"
    TEST_METHOD_CHANGED = "test_method.changed", "Test method changed"
    INSTRUMENT_CREATED = "instrument.created", "Instrument created"
    INSTRUMENT_CHANGED = "instrument.changed", "Instrument changed"
    REFERENCE_MATERIAL_CREATED = "reference_material.created", "Reference material created"
    REFERENCE_MATERIAL_CHANGED = "reference_material.changed", "Reference material changed"
    REFERENCE_MATERIAL_LIMIT_CREATED = (
        "reference_material_limit.created",
        "Certified range created",
    )
    REFERENCE_MATERIAL_LIMIT_CHANGED = (
        "reference_material_limit.changed",
        "Certified range changed",
    )

    # Specifications.
    SPECIFICATION_DRAFT_CREATED = "specification.draft_created", "Specification draft created"
    SPECIFICATION_LINE_ADDED = "specification.line_added", "Specification line added"
    SPECIFICATION_LINE_CHANGED = "specification.line_changed", "Specification line changed"
    SPECIFICATION_LINE_REMOVED = "specification.line_removed", "Specification line removed"
    SPECIFICATION_APPROVED = "specification.approved", "Specification approved"
    SPECIFICATION_SUPERSEDED = "specification.superseded", "Specification superseded"
    SPECIFICATION_WITHDRAWN = "specification.withdrawn", "Specification withdrawn"

    # Continued process verification: control limits QA signs (FDA PV guidance 2011).
    CONTROL_BASELINE_SIGNED = "control_baseline.signed", "Control limits signed"

    # QC data.
    LOT_CREATED = "lot.created", "Lot created"
    LOT_SPECIFICATION_REBOUND = "lot.specification_rebound", "Lot bound to another specification"
    ASSAY_RUN_RECORDED = "assay_run.recorded", "Assay run recorded"
    # Written per result before results were bound per request (kept for stored history).
    RESULT_RECORDED = "result.recorded", "Result recorded"
    LOT_RESULTS_RECORDED = "lot.results_recorded", "Results recorded"
    RESULT_INVALIDATED = "result.invalidated", "Result invalidated"
    LOT_EVALUATED = "lot.evaluated", "Lot evaluated"

    # The release workflow.
    LOT_STATUS_CHANGED = "lot.status_changed", "Lot status changed"
    LOT_HOLD_RETURN_STATE_CHANGED = (
        "lot.hold_return_state_changed",
        "State a hold returns to changed",
    )
    LOT_RESULTS_REVIEWED = "lot.results_reviewed", "Results reviewed (second person)"
    LOT_AUDIT_TRAIL_REVIEWED = "lot.audit_trail_reviewed", "Audit trail reviewed"
    LOT_APPROVED = "lot.approved", "Lot approved by QA"
    LOT_RELEASED = "lot.released", "Lot released"
    LOT_CONDITIONALLY_RELEASED = "lot.conditionally_released", "Lot conditionally released"
    LOT_FINALISED = "lot.finalised", "Conditional release finalised"
    LOT_REJECTED = "lot.rejected", "Lot rejected"
    LOT_HOLD = "lot.hold", "Lot put on hold"
    LOT_HOLD_RELEASED = "lot.hold_released", "Hold released"
    LOT_RECALL_DECIDED = "lot.recall_decided", "Recall decision recorded"
    CERTIFICATE_ISSUED = "certificate.issued", "Certificate of Analysis issued"
    CERTIFICATE_CORRECTION_REQUESTED = (
        "certificate.correction_requested",
        "Certificate correction requested",
    )
    # People told of a lot (in the app, mailed after commit): part of the lot's trail.
    NOTIFICATION_SENT = "notification.sent", "Notification sent"

    # Investigations (FDA OOS guidance; 21 CFR 211.192).
    INVESTIGATION_OPENED = "investigation.opened", "Investigation opened"
    INVESTIGATION_CHECK = "investigation.check", "Laboratory check recorded"
    INVESTIGATION_NOTE = "investigation.note", "Note recorded"
    INVESTIGATION_PHASE_ONE_CONCLUDED = "investigation.phase_one_concluded", "Phase I concluded"
    INVESTIGATION_INVALIDATION_PROPOSED = (
        "investigation.invalidation_proposed",
        "Invalidation proposed",
    )
    INVESTIGATION_RESULT_INVALIDATED = (
        "investigation.result_invalidated",
        "Result invalidated (second person)",
    )
    INVESTIGATION_RETEST_ALLOWED = "investigation.retest_allowed", "Retest allowed"
    INVESTIGATION_LOTS_CHECKED = "investigation.lots_checked", "Phase II: other lots checked"
    INVESTIGATION_CONCLUDED = "investigation.concluded", "Investigation concluded"
    INVESTIGATION_ATTACHMENT_ADDED = "investigation.attachment_added", "Raw-data file attached"
    INVESTIGATION_PHASE_CHANGED = "investigation.phase_changed", "Investigation phase changed"
    INVESTIGATION_CLOSED = "investigation.closed", "Investigation closed"
