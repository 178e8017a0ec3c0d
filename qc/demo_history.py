"""A history for the demo's control chart (continued process verification).

Twenty-three earlier lots of EVX-MSC-01, ``EVX-23-001`` .. ``EVX-23-023``, each with
its particle concentration (NTA, three replicates, in an NTA run whose bead control
passes) posted by the demo machine client through the real ingestion service and
evaluated by the real evaluation service.  The demo QA officer signs the control
limits of NTA-CONC from the first fifteen; the later lots are judged against them,
and ``EVX-23-019`` (2.25×10^11 particles/mL: inside the specification, 1.6-2.4,
but more than 3σ above the centre) breaks Nelson rule 1, which opens an out-of-trend
notice.  Only NTA-CONC is posted, so these lots stay "in testing" (incomplete):
they are there to give the chart a past, not to be released.

Quick (a few seconds) and idempotent: lots that exist are skipped, evaluation
stores nothing new for unchanged inputs, and a signed baseline is never re-signed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from qc.models import ControlBaseline, Lot
from qc.services.evaluation import lot_evaluate
from qc.services.ingestion import results_record
from qc.services.lots import lot_create
from qc.services.runs import assay_run_record
from qc.services.trends import control_baseline_sign
from services.accounts.context import AuthContext
from services.accounts.models import ApiClient, User

PRODUCT = "EVX-MSC-01"
TEST = "NTA-CONC"
# Mean particle concentration of each history lot, ×10^11 particles/mL, in order.
BASELINE_VALUES = [
    "2.05", "2.10", "2.03", "2.08", "2.12", "2.04", "2.07", "2.11",
    "2.02", "2.06", "2.09", "2.13", "2.05", "2.08", "2.04",
]  # fmt: skip
LATER_VALUES = ["2.06", "2.09", "2.04", "2.25", "2.07", "2.03", "2.05", "2.02"]
HISTORY = [
    (f"EVX-23-{number:03d}", value)
    for number, value in enumerate([*BASELINE_VALUES, *LATER_VALUES], start=1)
]
BASELINE_LOTS = [lot_number for lot_number, _ in HISTORY[: len(BASELINE_VALUES)]]
OUT_OF_TREND_LOT = "EVX-23-019"
BASELINE_REASON = (
    "Demo: the first 15 lots of the process, all within specification, as the baseline "
    "of the NTA-CONC control chart"
)


def seed_history(*, client: ApiClient, qa: User, password: str, stdout: TextIO) -> None:
    """Post the history lots, sign the baseline from the first 15, then post the rest."""
    total = len(HISTORY)
    for index, (lot_number, value) in enumerate(HISTORY):
        if index == len(BASELINE_LOTS):
            _sign_baseline(qa, password, stdout)
        if Lot.objects.filter(lot_number=lot_number).exists():
            continue
        with transaction.atomic():  # a lot and its data arrive whole, or not at all
            _post(lot_number, value, client, days_before=30 + 7 * (total - index))
        lot_evaluate(lot_id=Lot.objects.get(lot_number=lot_number).pk)
    stdout.write(
        f"History for the control chart: {total} lots EVX-23-001..{total:03d} with {TEST}; "
        f"limits signed from the first {len(BASELINE_LOTS)}; {OUT_OF_TREND_LOT} breaks "
        "Nelson rule 1\n"
    )


def _sign_baseline(qa: User, password: str, stdout: TextIO) -> None:
    if ControlBaseline.objects.filter(product__code=PRODUCT, test__code=TEST).exists():
        return
    try:
        control_baseline_sign(
            product_code=PRODUCT,
            test_code=TEST,
            lot_numbers=BASELINE_LOTS,
            auth=AuthContext.of(qa),
            password=password,
            reason=BASELINE_REASON,
        )
    except Exception as exc:  # the demo QA password was changed: say how to proceed
        stdout.write(f"demo control limits not signed ({exc})\n")


def demo_lot_create(*, lot_number: str, client: ApiClient, tested_on: datetime) -> None:
    """A demo lot of EVX-MSC-01 as DEMO-MES posts it (also for ``qc.demo``'s lots):
    made two days before its testing day, 28 days' shelf life after it."""
    lot_create(
        lot_number=lot_number,
        product_code=PRODUCT,
        manufactured_on=(tested_on - timedelta(days=2)).date(),
        by=client,
        site="Leiden",
        expires_on=(tested_on + timedelta(days=28)).date(),
        process={
            "isolation_method": "TFF + SEC",
            "culture_supplement": "FCS-free",
            "cell_source": "umbilical-cord MSC, donor D-17",
            "passage": 4,
        },
    )


def _post(lot_number: str, value: str, client: ApiClient, *, days_before: int) -> None:
    day = timezone.now() - timedelta(days=days_before)
    demo_lot_create(lot_number=lot_number, client=client, tested_on=day)
    run_id = f"{lot_number}-NTA"
    assay_run_record(
        external_run_id=run_id,
        method_code=TEST,
        instrument_code="NTA-01",
        analyst="analyst",
        started_at=(day + timedelta(hours=1)).isoformat(),
        ended_at=(day + timedelta(hours=2)).isoformat(),
        by=client,
        controls=[
            {
                "reference_material": "NIST-PS100",
                "reference_lot": "2026-01",
                "test": "NTA-MODE",
                "value": "101",
                "unit": "nm",
            }
        ],
    )
    mean = Decimal(value)
    at = (day + timedelta(hours=3)).isoformat()
    results_record(
        lot_number=lot_number,
        by=client,
        items=[
            {
                "test": TEST,
                # Three replicates whose mean is the lot's value (CV 1 %).
                "value": f"{mean * factor}e11",
                "unit": "particles/mL",
                "replicate": replicate,
                "run": run_id,
                "performed_by": "analyst",
                "performed_at": at,
            }
            for replicate, factor in enumerate(
                (Decimal("0.99"), Decimal("1.00"), Decimal("1.01")), start=1
            )
        ],
    )
