"""The web UI's forms for the policy's actions: what each button says and collects.

Who may take an action, when it applies, what signing it means and the statement
the signer reads all come from ``releases.policy``; this module only adds what a
page needs to offer it: the form, the button's words and the success message.
The services check everything again; a refusal comes back with every reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django import forms

from qc.evaluation.types import LineVerdict
from qc.models import Lot, LotStatus
from qc.selectors import lot_current_evaluation, specification_effective
from qc.services.lots import lot_rebind_specification
from releases.models import Investigation
from releases.policy import ACTIONS, ActionKey, Checklist, PolicyAction, may_take
from releases.services.certificates import certificate_request_correction
from releases.services.decisions import (
    lot_approve,
    lot_conditionally_release,
    lot_finalise_conditional_release,
    lot_reject,
    lot_release,
)
from releases.services.holds import lot_hold, lot_release_hold
from releases.services.investigations import (
    investigation_add_entry,
    investigation_attach_file,
    investigation_open_deviation,
)
from releases.services.oos import (
    investigation_allow_retest,
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from releases.services.recalls import lot_record_recall_decision
from releases.services.reviews import lot_record_audit_trail_review, lot_record_result_review
from releases.ui import forms as ui_forms
from services.accounts.context import AuthContext
from services.accounts.models import Role, User

S = LotStatus


@dataclass(frozen=True)
class ActionForm:
    """One policy action as a form on a page."""

    key: ActionKey
    button: str
    form_class: type[forms.Form]
    service: Callable[..., Any]
    done: str  # the success message; {lot} / {number} is the lot's / investigation's
    danger: bool = False

    @property
    def policy(self) -> PolicyAction:
        return ACTIONS[self.key]

    @property
    def title(self) -> str:
        return self.policy.title

    def form(
        self,
        *,
        lot: Lot | None = None,
        investigation: Investigation | None = None,
        data: Any = None,
        files: Any = None,
        initial: dict[str, Any] | None = None,
    ) -> forms.Form:
        kwargs: dict[str, Any] = {"prefix": self.key.value, "initial": initial}
        if self.form_class is ui_forms.ConditionalReleaseForm and lot is not None:
            kwargs["missing"] = missing_tests(lot)
        if self.form_class is ui_forms.RecallDecisionForm:
            kwargs["lot"] = lot
        if self.form_class in (ui_forms.PhaseTwoForm, ui_forms.ConcludeForm):
            kwargs["investigation"] = investigation
        return self.form_class(data, files, **kwargs)

    def run(self, *, subject: dict[str, str], auth: AuthContext, form: forms.Form) -> Any:
        kwargs = form.service_kwargs()  # type: ignore[attr-defined]
        return self.service(**subject, auth=auth, **kwargs)

    def allowed(self, user: Any, lot: Lot | None = None) -> bool:
        return may_take(self.key, user, lot)


def missing_tests(lot: Lot) -> list[tuple[str, str]]:
    """Required tests of the current evaluation still without a result (code, name)."""
    current = lot_current_evaluation(lot=lot)
    if current is None:
        return []
    return [
        (line.test_code, f"{line.display_name} ({line.test_code})")
        for line in current.lines
        if line.verdict == LineVerdict.MISSING and line.test_code
    ]


def _rebind_to_effective(*, lot_number: str, auth: AuthContext, reason: str) -> Lot:
    """The lot bound to its product's effective version (the only one a lot may move to)."""
    lot = Lot.objects.select_related("product").get(lot_number=lot_number)
    effective = specification_effective(product=lot.product)
    return lot_rebind_specification(
        lot_number=lot_number,
        specification_id=effective.pk if effective is not None else 0,
        by=cast(User, auth.principal),
        reason=reason,
    )


def _forms(*items: ActionForm) -> dict[str, ActionForm]:
    return {item.key.value: item for item in items}


LOT_ACTIONS: dict[str, ActionForm] = _forms(
    ActionForm(
        ActionKey.RESULT_REVIEW,
        "Sign the result review",
        ui_forms.ReviewForm,
        lot_record_result_review,
        "The results of lot {lot} are reviewed.",
    ),
    ActionForm(
        ActionKey.AUDIT_TRAIL_REVIEW,
        "Sign the audit-trail review",
        ui_forms.AuditTrailReviewForm,
        lot_record_audit_trail_review,
        "The audit-trail review of lot {lot} is recorded.",
    ),
    ActionForm(
        ActionKey.APPROVE,
        "Sign: approve",
        ui_forms.SignatureForm,
        lot_approve,
        "Lot {lot} is approved by QA; the Qualified Persons are told it awaits certification.",
    ),
    ActionForm(
        ActionKey.RELEASE,
        "Sign: certify and release",
        ui_forms.SignatureForm,
        lot_release,
        "Lot {lot} is released; its Certificate of Analysis is being generated.",
    ),
    ActionForm(
        ActionKey.CONDITIONAL_RELEASE,
        "Sign: release conditionally",
        ui_forms.ConditionalReleaseForm,
        lot_conditionally_release,
        "Lot {lot} is conditionally released; the pending tests are awaited.",
    ),
    ActionForm(
        ActionKey.FINALISE,
        "Sign: finalise the release",
        ui_forms.SignatureForm,
        lot_finalise_conditional_release,
        "The release of lot {lot} is final; a new Certificate of Analysis is being generated.",
    ),
    ActionForm(
        ActionKey.HOLD,
        "Put the lot on hold",
        ui_forms.HoldForm,
        lot_hold,
        "Lot {lot} is on hold.",
    ),
    ActionForm(
        ActionKey.RELEASE_HOLD,
        "Release the hold",
        ui_forms.HoldForm,
        lot_release_hold,
        "The hold on lot {lot} is released.",
    ),
    ActionForm(
        ActionKey.REJECT,
        "Sign: reject",
        ui_forms.RejectForm,
        lot_reject,
        "Lot {lot} is rejected.",
        danger=True,
    ),
    ActionForm(
        ActionKey.OPEN_DEVIATION,
        "Open the deviation",
        ui_forms.DeviationForm,
        investigation_open_deviation,
        "A deviation on lot {lot} is open; it blocks the release until QA concludes it.",
    ),
    ActionForm(
        ActionKey.CERTIFICATE_CORRECTION,
        "Request the corrected certificate",
        ui_forms.CorrectionForm,
        certificate_request_correction,
        "A corrected Certificate of Analysis of lot {lot} is being generated.",
    ),
    ActionForm(
        ActionKey.SPECIFICATION_REBIND,
        "Bind to the effective version",
        ui_forms.RebindForm,
        _rebind_to_effective,
        "Lot {lot} is bound to its product's effective specification; it is re-evaluated.",
    ),
    ActionForm(
        ActionKey.RECALL_DECISION,
        "Sign the recall decision",
        ui_forms.RecallDecisionForm,
        lot_record_recall_decision,
        "The recall decision on lot {lot} is recorded.",
        danger=True,
    ),
)

INVESTIGATION_ACTIONS: dict[str, ActionForm] = _forms(
    ActionForm(
        ActionKey.INVESTIGATION_ENTRY,
        "Add to the log",
        ui_forms.EntryForm,
        investigation_add_entry,
        "Added to the log of {number}.",
    ),
    ActionForm(
        ActionKey.PHASE_ONE,
        "Record the Phase I conclusion",
        ui_forms.PhaseOneForm,
        investigation_conclude_phase_one,
        "Phase I of {number} is concluded.",
    ),
    ActionForm(
        ActionKey.INVALIDATE_RESULT,
        "Sign: invalidate the result",
        ui_forms.InvalidationForm,
        investigation_invalidate_result,
        "The result is invalidated by {number}; the lot is being re-evaluated.",
        danger=True,
    ),
    ActionForm(
        ActionKey.ALLOW_RETEST,
        "Allow the retest",
        ui_forms.AllowRetestForm,
        investigation_allow_retest,
        "A retest is allowed by {number}.",
    ),
    ActionForm(
        ActionKey.PHASE_TWO,
        "Record Phase II",
        ui_forms.PhaseTwoForm,
        investigation_record_phase_two,
        "Phase II findings are recorded in {number}.",
    ),
    ActionForm(
        ActionKey.ATTACH,
        "Attach the file",
        ui_forms.AttachmentForm,
        investigation_attach_file,
        "The file is attached to {number}; its SHA-256 is in the audit trail.",
    ),
    ActionForm(
        ActionKey.CONCLUDE,
        "Sign: conclude",
        ui_forms.ConcludeForm,
        investigation_conclude,
        "Investigation {number} is concluded.",
        danger=True,
    ),
)

# The checklist each decision shows, by the decision's form key.
DECISION_KEY: dict[Checklist, str] = {
    Checklist.APPROVE: ActionKey.APPROVE.value,
    Checklist.RELEASE: ActionKey.RELEASE.value,
    Checklist.CONDITIONAL_RELEASE: ActionKey.CONDITIONAL_RELEASE.value,
    Checklist.FINALISE: ActionKey.FINALISE.value,
}


def checklist_action(lot: Lot, user: Any) -> tuple[Checklist | None, bool]:
    """The decision whose checklist the viewer sees, and whether the viewer signs it.

    QA sees its approval; a Qualified Person the certification (or the finalisation
    of a conditional release, or a conditional release while tests are pending);
    everyone else the lot's next step, read-only.  Decided lots have none.
    """
    if lot.status in {S.RELEASED, S.REJECTED}:
        return None, False
    role = getattr(user, "role", "")
    qp_product = bool(lot.product.requires_qp_certification)
    if lot.status == S.CONDITIONALLY_RELEASED:
        nxt = Checklist.FINALISE
    elif lot.status == S.APPROVED:
        nxt = Checklist.RELEASE
    elif (
        role == Role.QUALIFIED_PERSON
        and lot.status == S.IN_TESTING
        and lot.product.conditional_release_allowed
        and missing_tests(lot)
    ):
        nxt = Checklist.CONDITIONAL_RELEASE
    elif qp_product and role != Role.QUALIFIED_PERSON:
        nxt = Checklist.APPROVE
    else:
        nxt = Checklist.RELEASE
    signs = isinstance(user, User) and may_take(ActionKey(DECISION_KEY[nxt]), user, lot)
    return nxt, signs
