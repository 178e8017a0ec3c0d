"""Demo data for ``manage.py seed_demo`` (DOMAIN §2-§3): product EVX-MSC-01, its
test methods, instruments, reference materials, an approved specification (v1), a
draft v2 with a tighter endotoxin limit (for the impact preview, ``spec_impact``)
and four lots: one that conforms, one that fails endotoxin, one whose NTA run
fails system suitability, and one still incomplete.

Everything goes through the same services as production: the specification is
approved with a real electronic signature of the demo QA officer, the runs and
results are posted as the demo machine client "DEMO-MES" would post them.
Running it twice changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TextIO

from django.db import transaction
from django.utils import timezone

from qc.demo_history import demo_lot_create, seed_history
from qc.models import (
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    ReferenceMaterialLimit,
    Specification,
    SpecificationStatus,
    TestMethod,
)
from qc.selectors import lot_current_evaluation
from qc.services.ingestion import results_record
from qc.services.master import master_data_save
from qc.services.runs import assay_run_record
from qc.services.specifications import (
    specification_approve,
    specification_create_draft,
    specification_line_add,
)
from services.accounts.context import AuthContext
from services.accounts.models import ApiClient, User
from services.accounts.services import api_client_create
from services.audit.services import Actor

PRODUCT = "EVX-MSC-01"
REASON = "demo data (seed_demo)"

# code, name, attribute class, technique, result kind, canonical unit, replicates
TESTS: list[tuple[str, str, str, str, str, str, int]] = [
    ("NTA-CONC", "Particle concentration (NTA)", "quantity", "NTA", "numeric", "particles/mL", 3),
    ("NTA-MODE", "Modal size (NTA)", "identity", "NTA", "numeric", "nm", 1),
    ("TRPS-MODE", "Modal size (TRPS)", "identity", "TRPS", "numeric", "nm", 1),
    ("MODAL-SIZE", "Modal size, orthogonal agreement", "identity", "NTA+TRPS", "numeric", "nm", 1),
    ("BCA", "Total protein (BCA)", "purity", "BCA", "numeric", "µg/mL", 1),
    ("PURITY-RATIO", "Particle:protein ratio", "purity", "NTA/BCA", "numeric", "particles/µg", 1),
    ("IDENTITY", "EV marker panel", "identity", "WB", "detection", "", 1),
    ("LAL", "Bacterial endotoxins (LAL, USP <85>)", "safety", "LAL", "numeric", "EU/mL", 1),
    ("LAL-SPIKE", "Endotoxin spike recovery", "safety", "LAL", "numeric", "%", 1),
    ("STERILITY", "Sterility (USP <71>, 14 days)", "safety", "USP<71>", "qualitative", "", 1),
    ("MYCO", "Mycoplasma (qPCR, Ph. Eur. 2.6.7)", "safety", "qPCR", "qualitative", "", 1),
    (
        "POTENCY",
        "Relative potency (T-cell proliferation)",
        "potency",
        "bioassay",
        "numeric",
        "%",
        1,
    ),
    ("ISOLATION", "Isolation method", "process", "batch record", "qualitative", "", 1),
    ("SUPPLEMENT", "Culture supplement", "process", "batch record", "qualitative", "", 1),
]
MARKERS = {
    "CD9": "WB-CD9",
    "CD63": "WB-CD63",
    "CD81": "WB-CD81",
    "TSG101": "WB-TSG101",
    "ALIX": "WB-ALIX",
    "syntenin": "WB-SDCBP",
    "calnexin": "WB-CANX",
    "GM130": "WB-GM130",
}
QUALITATIVE_VALUES = {
    "STERILITY": ["no growth", "growth"],
    "MYCO": ["not detected", "detected"],
    "ISOLATION": ["SEC", "TFF + SEC", "UC + SEC", "precipitation"],
    "SUPPLEMENT": ["FCS-free", "EV-depleted FCS", "FCS"],
}

SPEC_LINES: list[dict[str, Any]] = [
    {
        "name": "Particle concentration (NTA, mean of 3)",
        "test_code": "NTA-CONC",
        "criterion_type": "replicates",
        "params": {
            "min": "1.6e11",
            "max": "2.4e11",
            "n": 3,
            "max_cv_percent": "10",
            "report": "mean",
            "requires_run": True,
        },
    },
    {
        "name": "Modal size by NTA and TRPS",
        "test_code": "MODAL-SIZE",
        "criterion_type": "orthogonal_size",
        "decimals": 0,
        "params": {
            "min": 50,
            "max": 200,
            "tolerance_percent": 20,
            "test_codes": ["NTA-MODE", "TRPS-MODE"],
            "requires_run": True,
        },
        "alert_params": {"tolerance_percent": 10},
    },
    {
        "name": "Identity and purity markers (MISEV2018)",
        "test_code": "IDENTITY",
        "criterion_type": "marker_panel",
        "params": {
            "markers": MARKERS,
            "positive": ["CD9", "CD63", "CD81", "TSG101", "ALIX", "syntenin"],
            "min_positive": 3,
            "groups": {
                "tetraspanin": ["CD9", "CD63", "CD81"],
                "cytosolic": ["TSG101", "ALIX", "syntenin"],
            },
            "negative": ["calnexin", "GM130"],
        },
    },
    {
        "name": "Total protein (BCA)",
        "test_code": "BCA",
        "criterion_type": "numeric_range",
        "decimals": 1,
        "required": False,
        "params": {"min": "1", "max": "100"},
    },
    {
        "name": "Particle:protein ratio (purity)",
        "test_code": "PURITY-RATIO",
        "criterion_type": "derived_ratio",
        "decimals": -8,
        "params": {
            "numerator": "NTA-CONC",
            "numerator_unit": "particles/mL",
            "denominator": "BCA",
            "denominator_unit": "µg/mL",
            "min": "3e10",
        },
    },
    {
        "name": "Bacterial endotoxins",
        "test_code": "LAL",
        "criterion_type": "numeric_range",
        "decimals": 2,
        "params": {"max": "0.50", "requires_run": True},
        "alert_params": {"max": "0.30"},
    },
    {
        "name": "Sterility",
        "test_code": "STERILITY",
        "criterion_type": "qualitative",
        "params": {"allowed": ["no growth"]},
    },
    {
        "name": "Mycoplasma",
        "test_code": "MYCO",
        "criterion_type": "qualitative",
        "params": {"allowed": ["not detected"]},
    },
    {
        "name": "Relative potency vs reference lot",
        "test_code": "POTENCY",
        "criterion_type": "relative_potency",
        "decimals": 0,
        "params": {"min": 50, "max": 150, "max_slope_ratio": "1.25", "requires_run": True},
    },
    {
        "name": "Isolation method (no precipitation)",
        "test_code": "ISOLATION",
        "criterion_type": "process_fact",
        "params": {"field": "isolation_method", "allowed": ["SEC", "TFF + SEC", "UC + SEC"]},
    },
    {
        "name": "Culture supplement (FCS-free or EV-depleted)",
        "test_code": "SUPPLEMENT",
        "criterion_type": "process_fact",
        "params": {"field": "culture_supplement", "allowed": ["FCS-free", "EV-depleted FCS"]},
    },
]

PROCESS_FIELDS = {
    "isolation_method": {
        "type": "choice",
        "required": True,
        "choices": ["SEC", "TFF + SEC", "UC + SEC", "precipitation"],
    },
    "culture_supplement": {
        "type": "choice",
        "required": True,
        "choices": ["FCS-free", "EV-depleted FCS", "FCS"],
    },
    "cell_source": {"type": "text", "required": True},
    "passage": {"type": "number", "required": False},
    "harvest_volume_ml": {"type": "number", "required": False},
}


@dataclass(frozen=True)
class DemoLot:
    lot_number: str
    story: str
    nta_bead_mode: str = "101"
    endotoxin: str = "< 0.05"
    complete: bool = True


DEMO_LOTS = [
    DemoLot(
        "EVX-24-001",
        "conforms: ready for QA review and QP certification; "
        "endotoxin 0.12 EU/mL, which draft v2 would fail",
        endotoxin="0.12",
    ),
    DemoLot(
        "EVX-24-002",
        "fails endotoxin (0.80 EU/mL > 0.50): OOS investigation opened",
        endotoxin="0.80",
    ),
    DemoLot(
        "EVX-24-003",
        "NTA bead control out of range: NTA results invalid, lot blocked",
        nta_bead_mode="121",
    ),
    DemoLot(
        "EVX-24-004", "incomplete: sterility (14 days) and potency still pending", complete=False
    ),
]


# The previous lot of the size standard, near its expiry, so the dashboard's warning
# shows (REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS, 30 by default).  No run uses it, so
# the demo's runs stay suitable whatever day the demo is seeded.
EXPIRING_MATERIAL = ("NIST-PS100", "2025-11")
EXPIRING_MATERIAL_DAYS = 12

# Draft v2: v1 with one changed limit, so the impact preview has something to show.
DRAFT_ENDOTOXIN_LIMIT = {"max": "0.10", "requires_run": True}
DRAFT_ENDOTOXIN_ALERT = {"max": "0.06"}
DRAFT_REASON = "demo: proposed tighter endotoxin limit (≤ 0.10 EU/mL), to preview before approval"


def seed_demo(*, stdout: TextIO, password: str, history: bool = True) -> None:
    """The demo; ``history=False`` leaves out the control chart's 23 history lots
    (``qc.demo_history``), for tests that only need the four lots' stories."""
    qa = User.objects.filter(username="qa").first()
    admin = User.objects.filter(username="admin").first()
    if qa is None or admin is None:
        stdout.write("demo QC data skipped: the demo accounts are missing\n")
        return
    with transaction.atomic():
        _master_data(admin)
    has_spec = Specification.objects.filter(
        product__code=PRODUCT, status=SpecificationStatus.EFFECTIVE
    ).exists()
    if not has_spec and not _specification(qa, password, stdout):
        return
    client = _demo_client()
    if history:  # first, so the four demo lots stay the newest on every list
        seed_history(client=client, qa=qa, password=password, stdout=stdout)
    posted = set()
    for index, demo in enumerate(DEMO_LOTS):
        if demo_lot_post(demo, index=index):
            posted.add(demo.lot_number)
    _draft_specification(qa)
    _report(stdout, posted)


def demo_lot_post(demo: DemoLot, *, index: int) -> bool:
    """Post a demo lot with its runs and results as DEMO-MES, unless it exists (also for
    the demo lots of the apps above, e.g. ``releases.demo``); tested ``20 - index`` days
    ago.  True when it was posted now."""
    if Lot.objects.filter(lot_number=demo.lot_number).exists():
        return False
    with transaction.atomic():  # a lot and its data arrive whole, or not at all
        _post_lot(demo, _demo_client(), index)
    return True


def _report(stdout: TextIO, posted: set[str]) -> None:
    """What the demo holds now: on a second run, the lots' real states, not their stories."""
    versions = ", ".join(
        f"v{spec.version} {spec.get_status_display().lower()}"
        for spec in Specification.objects.filter(product__code=PRODUCT).order_by("version")
    )
    stdout.write(f"Demo product {PRODUCT} (specification {versions}) with {len(DEMO_LOTS)} lots:\n")
    for demo in DEMO_LOTS:
        lot = Lot.objects.filter(lot_number=demo.lot_number).first()
        if lot is None:
            continue
        if demo.lot_number in posted:
            state = f"posted now, to show: {demo.story}"
        else:
            state = lot.get_status_display().lower()
            current = lot_current_evaluation(lot=lot)
            if current is None:
                state += ", not evaluated yet"
            else:
                state += f", {current.evaluation.verdict.replace('_', ' ')}"
                if current.stale:
                    state += " (newer data waiting for evaluation)"
        stdout.write(f"  {demo.lot_number}  {state}\n")


def _draft_specification(qa: User) -> None:
    """Draft v2 of the specification, unless the product has moved past v1."""
    specifications = Specification.objects.filter(product__code=PRODUCT)
    if specifications.filter(version__gt=1).exists():
        return
    with transaction.atomic():
        draft = specification_create_draft(
            product_code=PRODUCT,
            by=qa,
            reason=DRAFT_REASON,
            title="Release specification, tighter endotoxin limit",
        )
        for position, line in enumerate(SPEC_LINES, start=1):
            if line["test_code"] == "LAL":
                line = {
                    **line,
                    "params": DRAFT_ENDOTOXIN_LIMIT,
                    "alert_params": DRAFT_ENDOTOXIN_ALERT,
                }
            specification_line_add(specification_id=draft.pk, by=qa, position=position, **line)


def _master_data(admin: User) -> None:
    product = Product.objects.filter(code=PRODUCT).first()
    if product is None:
        master_data_save(
            instance=Product(
                code=PRODUCT,
                name="MSC-derived small EVs (umbilical cord)",
                description="Demo product: small EVs from umbilical-cord MSC, SEC-isolated.",
                process_fields=PROCESS_FIELDS,
                shelf_life_days=28,
                conditional_release_allowed=True,
            ),
            by=admin,
            reason=REASON,
            fields=["code", "name", "process_fields"],
        )
    tests = [
        *TESTS,
        *[
            (code, f"{marker} (Western blot)", "identity", "WB", "qualitative", "", 1)
            for marker, code in MARKERS.items()
        ],
    ]
    for code, name, attribute, technique, kind, unit, replicates in tests:
        if TestMethod.objects.filter(code=code).exists():
            continue
        allowed = QUALITATIVE_VALUES.get(
            code, ["detected", "not detected"] if code.startswith("WB-") else []
        )
        master_data_save(
            instance=TestMethod(
                code=code,
                name=name,
                attribute_class=attribute,
                technique=technique,
                result_kind=kind,
                canonical_unit=unit,
                allowed_values=allowed,
                replicates_required=replicates,
                retest_budget=1,
            ),
            by=admin,
            reason=REASON,
            fields=["code", "name", "result_kind", "canonical_unit"],
        )
    for code, name, technique in [
        ("NTA-01", "NanoSight NS300", "NTA"),
        ("TRPS-01", "qNano Gold", "TRPS"),
        ("LAL-01", "Kinetic chromogenic LAL reader", "LAL"),
        ("PLATE-01", "Plate reader (potency)", "bioassay"),
    ]:
        if not Instrument.objects.filter(code=code).exists():
            master_data_save(
                instance=Instrument(
                    code=code,
                    name=name,
                    technique=technique,
                    calibration_due=date.today() + timedelta(days=180),
                ),
                by=admin,
                reason=REASON,
                fields=["code", "name", "technique"],
            )
    expiry = date.today() + timedelta(days=365)
    materials = [
        (
            "NIST-PS100",
            "2026-01",
            "100 nm polystyrene size standard (NIST-traceable)",
            "size standard",
            [("NTA-MODE", "100", "90", "110"), ("TRPS-MODE", "100", "90", "110")],
        ),
        (
            "NIST-PS100",
            "2025-11",
            "100 nm polystyrene size standard (NIST-traceable), previous lot",
            "size standard",
            [("NTA-MODE", "101", "91", "111"), ("TRPS-MODE", "101", "91", "111")],
        ),
        (
            "CSE-2026",
            "L-0426",
            "Control standard endotoxin (spike recovery)",
            "endotoxin spike",
            [("LAL-SPIKE", "100", "50", "200")],
        ),
        (
            "EVX-REF-001",
            "R1",
            "EVX-MSC-01 reference lot",
            "reference lot",
            [("POTENCY", "100", "80", "125")],
        ),
    ]
    for code, lot, name, kind, limits in materials:
        material = ReferenceMaterial.objects.filter(code=code, lot=lot).first()
        if material is None:
            material = master_data_save(  # type: ignore[assignment]
                instance=ReferenceMaterial(
                    code=code,
                    lot=lot,
                    name=name,
                    kind=kind,
                    status="released",
                    expires_on=(
                        date.today() + timedelta(days=EXPIRING_MATERIAL_DAYS)
                        if (code, lot) == EXPIRING_MATERIAL
                        else expiry
                    ),
                ),
                by=admin,
                reason=REASON,
                fields=["code", "lot", "status", "expires_on"],
            )
        for test_code, certified, low, high in limits:
            test = TestMethod.objects.get(code=test_code)
            exists = ReferenceMaterialLimit.objects.filter(
                reference_material=material, test=test
            ).exists()
            if not exists:
                master_data_save(
                    instance=ReferenceMaterialLimit(
                        reference_material=material,
                        test=test,
                        certified_value=Decimal(certified),
                        acceptance_low=Decimal(low),
                        acceptance_high=Decimal(high),
                    ),
                    by=admin,
                    reason=REASON,
                    fields=["certified_value", "acceptance_low", "acceptance_high"],
                )


def _specification(qa: User, password: str, stdout: TextIO) -> bool:
    with transaction.atomic():
        spec = Specification.objects.filter(
            product__code=PRODUCT, status=SpecificationStatus.DRAFT
        ).first() or specification_create_draft(
            product_code=PRODUCT, by=qa, reason=REASON, title="Release specification"
        )
        if not spec.lines.exists():
            for position, line in enumerate(SPEC_LINES, start=1):
                specification_line_add(specification_id=spec.pk, by=qa, position=position, **line)
    try:
        specification_approve(
            specification_id=spec.pk,
            auth=AuthContext.of(qa),
            password=password,
            reason="Demo specification approved by the demo QA officer",
        )
    except Exception as exc:  # the demo QA password was changed: say how to proceed
        stdout.write(
            f"demo specification left as a draft ({exc}); run seed_demo "
            "--password P with the demo accounts' password to approve it\n"
        )
        return False
    return True


def _demo_client() -> ApiClient:
    client = ApiClient.objects.filter(name="DEMO-MES", revoked=False).first()
    if client is None:
        client, _ = api_client_create(
            name="DEMO-MES",
            actor=Actor.system("seed_demo"),
            description="the demo manufacturing system",
        )
    return client


def _curve(potency: float) -> dict[str, list[dict[str, float]]]:
    doses = [1.0, 2.0, 4.0, 8.0, 16.0]
    return {
        "reference": [{"dose": d, "response": round(10 + 20 * math.log10(d), 4)} for d in doses],
        "sample": [
            {"dose": d, "response": round(10 + 20 * math.log10(d * potency), 4)} for d in doses
        ],
    }


def _size_distribution(mode_nm: float, tracked: int = 5000) -> dict[str, Any]:
    """An NTA size histogram as the instrument exports it: particles tracked per 8 nm
    bin, log-normal (EV sizes are right-skewed) with its peak at ``mode_nm``."""
    sigma = 0.35
    mu = math.log(mode_nm) + sigma**2  # the log-normal's mode is exp(mu - sigma^2)

    def below(size: float) -> float:
        return 0.5 * (1 + math.erf((math.log(size) - mu) / (sigma * math.sqrt(2))))

    bins = [
        {"low_nm": low, "high_nm": low + 8, "count": round(tracked * (below(low + 8) - below(low)))}
        for low in range(28, 396, 8)
    ]
    return {"size_distribution": {"bins": bins}}


def _post_lot(demo: DemoLot, client: ApiClient, index: int) -> None:
    day = timezone.now() - timedelta(days=20 - index)
    demo_lot_create(lot_number=demo.lot_number, client=client, tested_on=day)
    runs = _post_runs(demo, client, day)
    at = (day + timedelta(hours=3)).isoformat()

    def item(test: str, value: str, unit: str = "", **extra: Any) -> dict[str, Any]:
        return {
            "test": test,
            "value": value,
            "unit": unit,
            "performed_by": "analyst",
            "performed_at": at,
            **extra,
        }

    results = [
        item("NTA-CONC", "2.05e11", "particles/mL", run=runs["NTA"], replicate=1),
        item("NTA-CONC", "2.1 x10^11", "/mL", run=runs["NTA"], replicate=2),
        item("NTA-CONC", "2.12e8", "particles/µL", run=runs["NTA"], replicate=3),
        item("NTA-MODE", "112", "nm", run=runs["NTA"], raw_data=_size_distribution(112)),
        item("TRPS-MODE", "0.105", "µm", run=runs["TRPS"]),
        item("BCA", "4.2", "µg/mL"),
        item("LAL", demo.endotoxin, "EU/mL", run=runs["LAL"]),
        item("MYCO", "not detected"),
        *[
            item(code, "not detected" if marker in {"calnexin", "GM130"} else "detected")
            for marker, code in MARKERS.items()
        ],
    ]
    if demo.complete:
        results += [
            item("STERILITY", "no growth"),
            item("POTENCY", "95", "%", run=runs["POTENCY"], raw_data=_curve(0.95)),
        ]
    results_record(lot_number=demo.lot_number, items=results, by=client)


def _post_runs(demo: DemoLot, client: ApiClient, day: datetime) -> dict[str, str]:
    prefix = demo.lot_number
    specs = {
        "NTA": (
            "NTA-CONC",
            "NTA-01",
            [("NIST-PS100", "2026-01", "NTA-MODE", demo.nta_bead_mode, "nm")],
        ),
        "TRPS": ("TRPS-MODE", "TRPS-01", [("NIST-PS100", "2026-01", "TRPS-MODE", "99", "nm")]),
        "LAL": ("LAL", "LAL-01", [("CSE-2026", "L-0426", "LAL-SPIKE", "92", "%")]),
        "POTENCY": ("POTENCY", "PLATE-01", [("EVX-REF-001", "R1", "POTENCY", "100", "%")]),
    }
    runs = {}
    for key, (method, instrument, controls) in specs.items():
        run_id = f"{prefix}-{key}"
        assay_run_record(
            external_run_id=run_id,
            method_code=method,
            instrument_code=instrument,
            analyst="analyst",
            started_at=(day + timedelta(hours=1)).isoformat(),
            ended_at=(day + timedelta(hours=2)).isoformat(),
            by=client,
            controls=[
                {
                    "reference_material": code,
                    "reference_lot": lot,
                    "test": test,
                    "value": value,
                    "unit": unit,
                }
                for code, lot, test, value, unit in controls
            ],
        )
        runs[key] = run_id
    return runs
