"""Forms of the release workflow's web UI.

Every signing form asks for the two components of a non-biometric signature
(21 CFR 11.200(a)): the person is signed in, and re-enters the password here.
The password is never rendered back (a refused form keeps the typed reason,
never the password).  The services check everything again: these forms only
collect and clean the input.
"""

from __future__ import annotations

from typing import Any

from django import forms

from qc.models import Lot
from releases.models import PHASED_KINDS, Conclusion, Investigation
from releases.services.investigations import attachment_read

_TEXT = {"rows": 3}


class SignatureForm(forms.Form):
    """A reason (printed on the signature manifest) and the password, re-entered."""

    reason_label = "Reason"
    reason_help = "Printed on the signature manifest and in the audit trail."

    reason = forms.CharField(widget=forms.Textarea(attrs=_TEXT), max_length=4000)
    password = forms.CharField(
        label="Password (re-enter to sign)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    signs = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = self.reason_label
        self.fields["reason"].help_text = self.reason_help

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned input as the service's keyword arguments."""
        return {"reason": self.cleaned_data["reason"], "password": self.cleaned_data["password"]}


class ReviewForm(SignatureForm):
    reason_label = "Review comment"
    reason_help = "What you reviewed and found; printed on the signature manifest."

    def service_kwargs(self) -> dict[str, Any]:
        return {
            "comment": self.cleaned_data["reason"],
            "password": self.cleaned_data["password"],
        }


class AuditTrailReviewForm(ReviewForm):
    """QA's review covers the lot's audit trail up to the event shown on the page."""

    up_to_sequence = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["up_to_sequence"] = self.cleaned_data.get("up_to_sequence")
        return kwargs


class RejectForm(SignatureForm):
    reason_help = "Required: why the lot is rejected (21 CFR 211.165(f))."


class ConditionalReleaseForm(SignatureForm):
    """Lists the tests still pending: by default, every required test without a result."""

    field_order = ["pending_tests", "reason", "password"]

    pending_tests = forms.MultipleChoiceField(
        label="Tests still pending",
        required=False,  # an empty list is the service's refusal, with its reason
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, missing: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["pending_tests"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = missing or []
        field.initial = [code for code, _ in missing or []]
        if not missing:
            field.help_text = "No required test is waiting for its result."

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["pending_tests"] = list(self.cleaned_data["pending_tests"])
        return kwargs


class HoldForm(forms.Form):
    """Holds stop product and carry no signature: a reason, recorded under the person's name."""

    signs = False

    reason = forms.CharField(
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
        help_text="Why; recorded in the lot's dispositions and audit trail.",
    )

    def service_kwargs(self) -> dict[str, Any]:
        return {"reason": self.cleaned_data["reason"]}


class RebindForm(HoldForm):
    """QA moves a lot to the effective specification version: a reason, no signature."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "reason"
        ].help_text = "Why this lot is judged against the new version; recorded in the audit trail."


class DeviationForm(forms.Form):
    """QA opens a deviation: what happened; it blocks the release until concluded."""

    signs = False

    summary = forms.CharField(
        label="What deviated",
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
        help_text="The deviation blocks the release until QA concludes it (EU GMP Annex 16).",
    )

    def service_kwargs(self) -> dict[str, Any]:
        return {"summary": self.cleaned_data["summary"]}


class CorrectionForm(SignatureForm):
    """Why the certificate must be corrected, signed; the new version supersedes the old."""

    reason_help = (
        "At least a few words: printed on the corrected certificate and its signature "
        "manifest; both versions stay on record."
    )


class RecallDecisionForm(SignatureForm):
    field_order = ["recall", "investigation", "reason", "password"]

    recall = forms.TypedChoiceField(
        label="Decision",
        choices=[
            ("yes", "Recall the distributed product (the lot is rejected)"),
            ("no", "No recall: the lot stays where it is"),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    investigation = forms.ChoiceField(label="Investigation", required=False)

    def __init__(self, *args: Any, lot: Lot | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "— none —")]
        if lot is not None:
            choices += [
                (number, f"{number} ({kind})")
                for number, kind in lot.investigations.order_by("-opened_at").values_list(
                    "number", "kind"
                )
            ]
        field = self.fields["investigation"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["recall"] = self.cleaned_data["recall"]
        kwargs["investigation_number"] = self.cleaned_data.get("investigation") or None
        return kwargs


# --- investigations -------------------------------------------------------------------


class EntryForm(forms.Form):
    signs = False

    entry_type = forms.ChoiceField(
        label="Kind of entry",
        choices=[("check", "Laboratory check made"), ("note", "Note")],
        initial="check",
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label="What was checked, and what was found",
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
        help_text="E.g. analyst, method, instrument, calculations, standards, sample preparation.",
    )

    def service_kwargs(self) -> dict[str, Any]:
        return {"entry_type": self.cleaned_data["entry_type"], "text": self.cleaned_data["text"]}


class PhaseOneForm(SignatureForm):
    """Phase I ends with a signature (meaning "concluded"): a cause, or on to Phase II."""

    reason_label = "Cause, or why none was found"
    reason_help = "Printed on the signature manifest and in the audit trail."
    field_order = ["assignable_cause", "reason", "password"]

    assignable_cause = forms.TypedChoiceField(
        label="Conclusion of the laboratory investigation",
        choices=[
            ("yes", "Assignable laboratory error: propose invalidating the result"),
            ("no", "No assignable cause: open Phase II (production investigation)"),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs["assignable_cause"] = self.cleaned_data["assignable_cause"]
        return kwargs


class InvalidationForm(SignatureForm):
    reason_help = "Why you, as the second person, agree the cause is a laboratory error."


class AttachmentForm(forms.Form):
    """A raw-data file for the investigation's record (kept whole, never replaced)."""

    signs = False

    file = forms.FileField(label="Raw-data file", allow_empty_file=True)
    description = forms.CharField(
        label="What the file is",
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
        help_text="E.g. the chromatogram of the OOS run; its SHA-256 goes to the audit trail.",
    )

    def service_kwargs(self) -> dict[str, Any]:
        upload = self.cleaned_data["file"]
        return {
            "file_name": upload.name,
            "media_type": upload.content_type or "",
            "content": attachment_read(upload),
            "description": self.cleaned_data["description"],
        }


class AllowRetestForm(forms.Form):
    signs = False

    reason = forms.CharField(
        label="Why a retest is scientifically justified",
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
    )

    def service_kwargs(self) -> dict[str, Any]:
        return {"reason": self.cleaned_data["reason"]}


class PhaseTwoForm(forms.Form):
    signs = False

    lots_checked = forms.MultipleChoiceField(
        label="Other lots checked",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="21 CFR 211.192: the investigation extends to other batches that may be "
        "affected.",
    )
    findings = forms.CharField(
        label="Findings of the production investigation",
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
    )

    def __init__(
        self, *args: Any, investigation: Investigation | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = []
        if investigation is not None:
            lots = (
                Lot.objects.filter(product_id=investigation.lot.product_id)
                .exclude(pk=investigation.lot_id)
                .order_by("-created_at")[:40]
            )
            choices = [
                (lot.lot_number, f"{lot.lot_number} ({lot.get_status_display()})") for lot in lots
            ]
        field = self.fields["lots_checked"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = choices

    def service_kwargs(self) -> dict[str, Any]:
        return {
            "lots_checked": list(self.cleaned_data["lots_checked"]),
            "findings": self.cleaned_data["findings"],
        }


class ConcludeForm(SignatureForm):
    reason_label = "Conclusion and its justification"
    reason_help = (
        "Not confirmed: the assignable laboratory cause. Inconclusive: why QA decides as it "
        "does (a few words). Printed on the signature manifest."
    )
    field_order = ["conclusion", "reject_lot", "capa_reference", "reason", "password"]

    conclusion = forms.ChoiceField(label="Conclusion", widget=forms.RadioSelect)
    reject_lot = forms.TypedChoiceField(
        label="QA's decision on the lot (inconclusive only)",
        choices=[
            ("", "— not inconclusive —"),
            ("yes", "Reject the lot"),
            ("no", "Do not reject: the result stands and counts in the evaluation"),
        ],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
    )
    capa_reference = forms.CharField(
        label="Deviation or CAPA reference",
        required=False,
        max_length=64,
        help_text="Optional, e.g. CAPA-2024-017.",
    )

    def __init__(
        self, *args: Any, investigation: Investigation | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        phased = investigation is not None and investigation.kind in PHASED_KINDS
        wanted = (
            [Conclusion.CONFIRMED_OOS, Conclusion.NOT_CONFIRMED, Conclusion.INCONCLUSIVE]
            if phased
            else [Conclusion.ASSESSED]
        )
        field = self.fields["conclusion"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(c.value, c.label) for c in wanted]
        if len(wanted) == 1:
            field.initial = wanted[0].value
        if not phased:
            del self.fields["reject_lot"]

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        conclusion = self.cleaned_data["conclusion"]
        kwargs["conclusion"] = conclusion
        kwargs["capa_reference"] = self.cleaned_data.get("capa_reference", "")
        if conclusion == Conclusion.INCONCLUSIVE:
            kwargs["reject_lot"] = self.cleaned_data.get("reject_lot")
        return kwargs
