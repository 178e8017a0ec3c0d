"""Control limits QA chooses and signs (continued process verification).

QA picks the lots that represent the process in control; their reportable values
(as their current evaluations judged them) give the I-MR limits, computed once
here by the pure engine (``qc.evaluation.control``), frozen in a
:class:`~qc.models.ControlBaseline` with QA's Part 11 signature, and never
recomputed: every later lot is judged against exactly these numbers.  A new
baseline supersedes the previous one; both stay on record.

Who may sign, the signature's meaning and the statement the signer confirms come
from the release policy through ``qc.hooks.person_policy`` (qc may not import it).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import cast

from django.db import transaction
from django.utils import timezone

from qc import hooks
from qc.evaluation.control import ControlError, individuals_limits
from qc.models import ControlBaseline, Product, TestMethod
from qc.selectors import control_baseline_current, product_and_test, trend_points
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.errors import InvalidInput, Problem
from services.esign.services import next_id, signature_record, signer_authenticate

# Fewer lots give limits too uncertain to judge a process by (Montgomery §6.4 asks
# for 20-25; a young product starts with fewer and signs a new baseline later).
MIN_BASELINE_LOTS = 10
SIGNIFICANT = 12  # digits kept of each frozen limit (they are stored exactly as signed)


def _frozen(value: Decimal) -> Decimal:
    """``value`` to 12 significant digits, at most 15 decimal places (the column's)."""
    if value == 0:
        return Decimal(0)
    exponent = max(value.adjusted() - SIGNIFICANT + 1, -15)
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)


def _chosen(lot_numbers: Sequence[str]) -> list[str]:
    chosen = [str(n).strip() for n in lot_numbers if str(n).strip()]
    if len(set(chosen)) != len(chosen):
        raise InvalidInput.single("lots", "a lot is chosen twice", code="duplicate_lot")
    if len(chosen) < MIN_BASELINE_LOTS:
        raise InvalidInput.single(
            "lots",
            f"choose at least {MIN_BASELINE_LOTS} lots for a baseline; {len(chosen)} chosen",
            code="baseline_too_short",
        )
    return chosen


def baseline_words(product: Product, test: TestMethod, lot_numbers: Sequence[str]) -> str:
    """What the statement says is being approved (the same in the UI, the API and here)."""
    return (
        f"{test.code} ({test.name}) for {product.code}, computed from the "
        f"{len(lot_numbers)} lots {', '.join(lot_numbers)}"
    )


def control_baseline_statement(
    *, product_code: str, test_code: str, lot_numbers: Sequence[str]
) -> str:
    product, test = product_and_test(product_code=product_code, test_code=test_code)
    return hooks.person_policy.signing(
        hooks.CONTROL_BASELINE, baseline_words=baseline_words(product, test, lot_numbers)
    )[1]


def control_baseline_sign(
    *,
    product_code: str,
    test_code: str,
    lot_numbers: Sequence[str],
    auth: AuthContext,
    password: str,
    reason: str,
) -> ControlBaseline:
    """QA signs the control limits of ``test`` for ``product`` from the chosen lots.

    The password is checked first, outside the transaction (21 CFR 11.200(a)): a
    failed attempt is recorded and counts toward the lockout.  Inside it, the
    product row is locked (one baseline at a time per product), the values are read
    from the lots' current evaluations, the limits computed and frozen, signed and
    stored in one INSERT (the table is append-only), the previous baseline
    superseded, and the lots after the baseline judged (``control_baseline_signed``).
    """
    cast(User, hooks.person_policy.require_person(hooks.CONTROL_BASELINE, auth.principal))
    if not reason or not reason.strip():
        raise InvalidInput.single(
            "reason", "a reason is required (EU GMP Annex 11 §9)", code="reason_required"
        )
    product, test = product_and_test(product_code=product_code, test_code=test_code)
    chosen = _chosen(lot_numbers)
    signer = signer_authenticate(auth=auth, password=password)
    with transaction.atomic():
        Product.objects.select_for_update().filter(pk=product.pk).first()
        by_lot = {p.lot_number: p for p in trend_points(product=product, test=test)}
        problems = [
            Problem(
                code="lot_without_value",
                reason=f"lot {number} has no evaluated {test.code} value to put on the chart",
                field="lots",
                index=index,
            )
            for index, number in enumerate(chosen)
            if number not in by_lot
        ]
        if problems:
            raise InvalidInput(
                problems, headline=f"{len(problems)} chosen lot(s) have no {test.code} value"
            )
        ordered = [p for p in by_lot.values() if p.lot_number in set(chosen)]
        try:
            limits = individuals_limits([p.value for p in ordered])
        except ControlError as exc:
            raise InvalidInput.single("lots", exc.reason, code=exc.code) from exc
        previous = control_baseline_current(product=product, test=test)
        numbers = [p.lot_number for p in ordered]
        meaning, statement = hooks.person_policy.signing(
            hooks.CONTROL_BASELINE, baseline_words=baseline_words(product, test, numbers)
        )
        centre, sigma, mr_bar = (_frozen(x) for x in (limits.centre, limits.sigma, limits.mr_bar))
        baseline = ControlBaseline(
            pk=next_id(ControlBaseline),
            product=product,
            test=test,
            unit=test.canonical_unit,
            lot_numbers=numbers,
            values=[str(p.value) for p in ordered],
            centre=centre,
            sigma=sigma,
            mr_bar=mr_bar,
            # From the frozen centre and σ, so the chart's lines are exactly these numbers.
            ucl=_frozen(centre + 3 * sigma),
            lcl=_frozen(centre - 3 * sigma),
            mr_ucl=_frozen(limits.mr_ucl),
            supersedes=previous,
            reason=reason.strip(),
            created_at=timezone.now(),
            created_by=signer,
        )
        baseline.signature = signature_record(
            signer=signer,
            meaning=meaning,
            reason=reason,
            record=baseline,
            record_label=f"{product.code} {test.code} control limits",
            statement=statement,
        )
        baseline.save(force_insert=True)
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.CONTROL_BASELINE_SIGNED,
            object_type="control_baseline",
            object_id=baseline.pk,
            new_values={
                **baseline.signature_content(),
                "signature_id": baseline.signature.pk,
            },
            reason=baseline.reason,
            records=[baseline],
        )
        hooks.control_baseline_signed.emit(hooks.ControlBaselineSigned(baseline=baseline))
    return baseline
