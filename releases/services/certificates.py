"""Certificates of Analysis: a PDF and its JSON twin, rendered on the ``documents`` queue.

On a releasing decision (release, conditional release, finalisation) the
disposition service enqueues ``releases.tasks.certificate_generate`` on commit.
The certificate shows the manufacturer's name and address (settings), product,
lot, specification version, each required line's criterion, result and verdict
(the lines the specification does not require only with
``CERTIFICATE_OPTIONAL_LINES``), and the signature manifest (printed names, roles,
UTC times, meanings: 21 CFR 11.50; ICH Q7 §11.43).  The SHA-256 of both files is stored with the
certificate and written to the audit trail.  An issued certificate is never
regenerated in place: a correction, or the final certificate of a conditional
release, is a new version pointing at the one it supersedes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import structlog
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from qc.evaluation.bioassay.words import figures, short
from qc.evaluation.describe import describe_criterion
from qc.evaluation.types import verdict_words
from qc.models import Lot, SpecificationLine
from qc.selectors import EvaluationLine, evaluation_lines
from releases.lifecycle import lot_expired
from releases.models import (
    RELEASING_DECISIONS,
    AuditTrailReview,
    Certificate,
    CertificateCorrection,
    Decision,
    Disposition,
    ResultReview,
)
from releases.policy import ActionKey
from releases.services.commands import Act, lot_command, require_meaningful_reason
from releases.services.errors import Problem, Refused
from services.accounts.context import AuthContext
from services.accounts.models import Role
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.celery import app as celery_app
from services.esign.models import Signature

log = structlog.get_logger(__name__)
# WeasyPrint logs every rendering step at INFO; a documents worker needs only problems.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

_WORKER = Actor.system("documents worker")
_CHAIN = (
    Decision.APPROVED,
    Decision.RELEASED,
    Decision.CONDITIONALLY_RELEASED,
    Decision.FINALISED,
)


# --- content ---------------------------------------------------------------------


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def criterion_text(
    criterion_type: str,
    params: dict[str, Any],
    unit: str,
    alert_params: dict[str, Any] | None = None,
) -> str:
    """The acceptance criterion in words (qc.evaluation.describe)."""
    return describe_criterion(criterion_type, params, unit, alert_params)


def _role_text(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:  # a role retired since the signing: its stored name
        return role


# Criteria whose shown values are one per named part: a marker panel shows each
# marker's reading under the marker's name ("CD9: detected").
_NAMED_VALUES = frozenset({"marker_panel"})


def result_values(line: EvaluationLine) -> list[dict[str, str]]:
    """What the line's result shows, each value with its label where the label names it."""
    named = line.criterion_type in _NAMED_VALUES
    return [
        {"label": value.label if named else "", "text": value.text}
        for value in line.shown_values
        if value.text
    ]


def potency_confidence_limits(line: EvaluationLine) -> str:
    """The confidence limits the evaluation computed for a relative potency (Ph. Eur. 5.3
    reports them with the estimate): the combined assays' if combined, else each judged
    estimate's; "" when the line has none (a posted potency, an unbounded interval)."""
    report = line.extra.get("potency") or {}
    combination = report.get("combination")
    if combination:
        intervals = [combination]
    else:
        used = set(line.used_result_ids)
        intervals = [
            estimate
            for assay in report.get("assays") or ()
            if assay.get("valid") and assay.get("result_id") in used
            for estimate in assay.get("estimates") or ()
            if estimate.get("judged", True)
        ]
    texts = [
        f"{short(100 * interval['confidence'], 4)} % confidence limits "
        f"{figures(interval['lower_percent'])}–{figures(interval['upper_percent'])} %"
        for interval in intervals
        if interval.get("lower_percent") is not None and interval.get("upper_percent") is not None
    ]
    return "; ".join(dict.fromkeys(texts))


def _manifest_entry(signature: Signature) -> dict[str, Any]:
    return {
        "signature_id": signature.pk,
        "printed_name": signature.printed_name,
        "role": signature.signer_role,
        "role_text": _role_text(signature.signer_role),
        "meaning": signature.meaning,
        "meaning_text": signature.get_meaning_display(),
        "signed_at": signature.signed_at.astimezone(UTC).isoformat(),
        "signed_at_text": utc_text(signature.signed_at),
        "reason": signature.reason,
        "record": signature.record_label,
        "record_digest": signature.record_digest,
    }


def signature_manifest(
    disposition: Disposition, supersedes: Certificate | None = None
) -> list[dict[str, Any]]:
    """The signatures behind this decision: reviews, QA approval, QP certification, and,
    on a corrected certificate, QA's signed approval of the correction."""
    signatures: list[Signature] = []
    for review_model in (ResultReview, AuditTrailReview):
        review = (
            review_model.objects.filter(  # type: ignore[attr-defined]
                lot_id=disposition.lot_id, reviewed_at__lte=disposition.decided_at
            )
            .select_related("signature")
            .order_by("-reviewed_at", "-pk")
            .first()
        )
        if review is not None:
            signatures.append(review.signature)
    chain = Disposition.objects.filter(
        lot_id=disposition.lot_id,
        decision__in=_CHAIN,
        signature__isnull=False,
        decided_at__lte=disposition.decided_at,
    ).select_related("signature")
    for earlier in chain.order_by("decided_at", "pk"):
        if (
            earlier.pk == disposition.pk
            or earlier.evaluation_id == disposition.evaluation_id
            or earlier.decision == Decision.CONDITIONALLY_RELEASED
        ):
            assert earlier.signature is not None
            signatures.append(earlier.signature)
    if supersedes is not None:
        correction = (
            CertificateCorrection.objects.filter(supersedes=supersedes)
            .select_related("signature")
            .order_by("-pk")
            .first()
        )
        if correction is not None:
            signatures.append(correction.signature)
    unique = {signature.pk: signature for signature in signatures}
    ordered = sorted(unique.values(), key=lambda s: (s.signed_at, s.pk))
    return [_manifest_entry(signature) for signature in ordered]


def certificate_content(
    *,
    disposition: Disposition,
    version: int,
    supersedes: Certificate | None,
    correction_reason: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The certificate as data: the JSON twin, and what the PDF prints."""
    lot = disposition.lot
    product = lot.product
    spec = disposition.specification
    evaluation = disposition.evaluation
    spec_lines = {
        f"{line.position:03d}": line
        for line in SpecificationLine.objects.filter(specification=spec).select_related("test")
    }
    lines = []
    for line in evaluation_lines(evaluation=evaluation) if evaluation is not None else ():
        if not line.required and not settings.CERTIFICATE_OPTIONAL_LINES:
            continue
        spec_line = spec_lines.get(line.line_id)
        params = spec_line.params if spec_line else {}
        unit = spec_line.test.canonical_unit if spec_line else ""
        values = result_values(line)
        shown = [f"{v['label']}: {v['text']}" if v["label"] else v["text"] for v in values]
        lines.append(
            {
                "line": line.line_id,
                "attribute": line.display_name,
                "test": line.test_code,
                "method": spec_line.test.name if spec_line else "",
                "criterion": criterion_text(
                    line.criterion_type,
                    params,
                    unit,
                    spec_line.alert_params if spec_line else None,
                ),
                "criterion_type": line.criterion_type,
                "required": line.required,
                "result": "; ".join(shown)
                or ("pending" if line.test_code in disposition.pending_tests else "—"),
                "values": values,
                "confidence_limits": potency_confidence_limits(line),
                "verdict": line.verdict.value,
                "verdict_text": verdict_words(line.verdict),
                "reason": line.reason,
            }
        )
    return {
        "document": "Certificate of Analysis",
        "version": version,
        "supersedes_version": supersedes.version if supersedes else None,
        "correction_reason": correction_reason,
        "issued_at": issued_at.astimezone(UTC).isoformat(),
        "issued_at_text": utc_text(issued_at),
        "manufacturer": {
            "name": settings.MANUFACTURER_NAME,
            "address": list(settings.MANUFACTURER_ADDRESS),
        },
        "product": {"code": product.code, "name": product.name},
        "lot": {
            "lot_number": lot.lot_number,
            "manufactured_on": lot.manufactured_on.isoformat(),
            "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
            "site": lot.site,
        },
        "specification": {
            "version": spec.version,
            "title": spec.title,
            "approved_at": spec.approved_at.astimezone(UTC).isoformat()
            if spec.approved_at
            else None,
            "approved_at_text": utc_text(spec.approved_at) if spec.approved_at else None,
        },
        "evaluation": None
        if evaluation is None
        else {
            "id": evaluation.pk,
            "verdict": evaluation.verdict,
            "inputs_digest": evaluation.inputs_digest,
            "engine_version": evaluation.engine_version,
            "evaluated_at": evaluation.evaluated_at.astimezone(UTC).isoformat(),
        },
        "lines": lines,
        "optional_lines_shown": settings.CERTIFICATE_OPTIONAL_LINES,
        "disposition": {
            "id": disposition.pk,
            "decision": disposition.decision,
            "decision_text": disposition.get_decision_display(),
            "decided_at": disposition.decided_at.astimezone(UTC).isoformat(),
            "decided_by": disposition.decided_by_name,
            "reason": disposition.reason,
            "pending_tests": list(disposition.pending_tests),
        },
        "signatures": signature_manifest(disposition, supersedes if correction_reason else None),
        "signature_statement": "Electronic signatures under 21 CFR Part 11: printed name, date "
        "and time (UTC) and meaning of each signing (21 CFR 11.50).",
    }


# --- rendering -------------------------------------------------------------------


def json_twin(content: dict[str, Any]) -> bytes:
    text = json.dumps(content, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True)
    return (text + "\n").encode("utf-8")


def render_pdf(content: dict[str, Any], *, json_sha256: str) -> bytes:
    """WeasyPrint 70 renders the HTML template (pango does the text layout)."""
    # Imported here, not for a cycle: WeasyPrint loads the Pango system library when
    # imported, and every other part of the system runs without it (README).
    from weasyprint import HTML

    html = render_to_string(
        "releases/documents/certificate.html", {"c": content, "json_sha256": json_sha256}
    )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- issuing ---------------------------------------------------------------------


def certificate_issue(
    *, disposition_id: int, supersedes_id: int | None = None, correction_reason: str = ""
) -> Certificate | None:
    """Render and store the certificate of a releasing decision (the documents task's body).

    Idempotent: a redelivered task finds the certificate already issued and
    returns None.  The lot row is locked, so versions never collide.
    """
    with transaction.atomic():
        disposition = (
            Disposition.objects.select_related("lot", "lot__product", "specification", "evaluation")
            .filter(pk=disposition_id)
            .first()
        )
        if disposition is None:  # a task published by a transaction that rolled back
            log.warning("no such disposition; nothing to certify", disposition_id=disposition_id)
            return None
        lot = Lot.objects.select_for_update(of=("self",)).get(pk=disposition.lot_id)
        if lot.expires_on is not None and lot.expires_on < disposition.decided_at.date():
            # 21 CFR 211.137: never a certificate of an expired lot (the guards refuse
            # such a release; this holds even for a decision recorded by other means).
            log.warning("lot expired at the decision; no certificate", lot=lot.lot_number)
            return None
        issued = Certificate.objects.filter(lot=lot)
        supersedes: Certificate | None
        if correction_reason:
            if supersedes_id is None or issued.filter(supersedes_id=supersedes_id).exists():
                return None
            supersedes = issued.get(pk=supersedes_id)
        else:
            if issued.filter(disposition=disposition, correction_reason="").exists():
                return None
            # A finalised conditional release supersedes the conditional certificate.
            supersedes = issued.order_by("-version").first()
        version = (issued.aggregate(v=Max("version"))["v"] or 0) + 1
        issued_at = timezone.now()
        content = certificate_content(
            disposition=disposition,
            version=version,
            supersedes=supersedes,
            correction_reason=correction_reason,
            issued_at=issued_at,
        )
        twin = json_twin(content)
        json_sha256 = sha256(twin)
        pdf = render_pdf(content, json_sha256=json_sha256)
        pdf_sha256 = sha256(pdf)
        stem = f"certificates/{lot.lot_number}/{lot.lot_number}-CoA-v{version}"
        certificate = Certificate.objects.create(
            lot=lot,
            version=version,
            disposition=disposition,
            supersedes=supersedes,
            correction_reason=correction_reason,
            pdf_name=f"{stem}.pdf",
            pdf_sha256=pdf_sha256,
            pdf_data=pdf,
            json_name=f"{stem}.json",
            json_sha256=json_sha256,
            json_data=twin,
            content=content,
            issued_at=issued_at,
        )
        audit_record(
            actor=_WORKER,
            action=AuditAction.CERTIFICATE_ISSUED,
            object_type="lot",
            object_id=lot.lot_number,
            new_values={
                "certificate_id": certificate.pk,
                "version": version,
                "supersedes_version": supersedes.version if supersedes else None,
                "disposition_id": disposition.pk,
                "decision": disposition.decision,
                "pdf_sha256": pdf_sha256,
                "json_sha256": json_sha256,
                "pdf_name": certificate.pdf_name,
                "json_name": certificate.json_name,
            },
            reason=correction_reason or f"certificate of the {disposition.decision} decision",
            records=[certificate],
        )
    log.info("certificate issued", lot=lot.lot_number, version=version, sha256=pdf_sha256)
    return certificate


CERTIFICATE_TASK = "releases.tasks.certificate_generate"


def certificate_enqueue_on_commit(
    *, disposition_id: int, supersedes_id: int | None = None, correction_reason: str = ""
) -> None:
    """Ask the documents worker for the certificate once the decision commits.

    A broker failure is logged, never raised: ``reconcile_certificates`` (beat)
    finds releasing decisions still without a certificate.
    """

    def publish() -> None:
        try:
            # By name: the task module imports this one (tasks call services, not back).
            celery_app.send_task(
                CERTIFICATE_TASK,
                args=(disposition_id, supersedes_id, correction_reason),
                retry=False,
                retry_policy={"max_retries": 0},
            )
        except Exception as exc:  # kombu raises many kinds of connection errors
            log.warning(
                "could not publish the certificate task; the reconciler will retry",
                disposition_id=disposition_id,
                error=exc.__class__.__name__,
            )

    transaction.on_commit(publish)


def certificate_request_correction(
    *, lot_number: str, auth: AuthContext, password: str, reason: str
) -> Certificate:
    """QA approves a corrected certificate with a signature: a new version pointing at
    the latest one, whose manifest shows the correction's signature (21 CFR 11.50)."""
    require_meaningful_reason(reason)

    def request(lot: Lot, act: Act) -> Certificate:
        latest = Certificate.objects.filter(lot=lot).order_by("-version").first()
        if latest is None:
            raise Refused(
                f"No certificate of lot {lot_number} can be corrected",
                [Problem("certificate_not_found", f"Lot {lot_number} has no certificate yet.")],
            )
        if lot_expired(lot):  # 21 CFR 211.137: no certificate for an expired lot
            raise Refused(
                f"No certificate of lot {lot_number} can be issued",
                [
                    Problem(
                        "lot_expired",
                        f"Lot {lot_number} expired on {lot.expires_on:%Y-%m-%d}.",
                    )
                ],
            )
        correction, signature = act.sign(
            CertificateCorrection(
                lot=lot,
                supersedes=latest,
                reason=act.reason,
                requested_at=timezone.now(),
                requested_by=act.person,
                requested_by_name=act.person.printed_name,
            ),
            label=f"lot {lot_number}: correction of certificate v{latest.version}",
        )
        audit_record(
            actor=act.person.audit_actor(),
            action=AuditAction.CERTIFICATE_CORRECTION_REQUESTED,
            object_type="lot",
            object_id=lot_number,
            new_values={
                "supersedes_version": latest.version,
                "certificate_correction_id": correction.pk,
                "signature_id": signature.pk,
            },
            reason=act.reason,
            records=[correction],
        )
        certificate_enqueue_on_commit(
            disposition_id=latest.disposition_id,
            supersedes_id=latest.pk,
            correction_reason=act.reason,
        )
        return latest

    return lot_command(
        key=ActionKey.CERTIFICATE_CORRECTION,
        auth=auth,
        lot_number=lot_number,
        reason=reason,
        password=password,
        body=request,
    )


def dispositions_without_certificate(limit: int = 100) -> list[int]:
    """Releasing decisions whose certificate is still missing (the reconciler's query)."""
    return list(
        Disposition.objects.filter(decision__in=RELEASING_DECISIONS)
        .exclude(certificates__correction_reason="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
