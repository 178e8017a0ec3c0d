"""The demo world (qc.demo) as a fixture: EVX-MSC-01, its approved specification,
reference materials, and the four demo lots with their stories (the control chart's
history lots only where a test asks for ``demo_with_history``)."""

from __future__ import annotations

import io
from typing import Any

import pytest


def _demo_world(password: str, *, history: bool = False) -> None:
    from qc import demo
    from services.accounts.demo import demo_accounts_seed

    demo_accounts_seed(password=password)
    out = io.StringIO()
    demo.seed_demo(stdout=out, password=password, history=history)
    assert "EVX-24-004" in out.getvalue(), out.getvalue()


@pytest.fixture
def demo_world(transactional_db: None, password: str) -> None:
    """The demo lots, posted with no worker running (nothing evaluated yet).

    Transactional: approving the specification signs it, and a signer is
    authenticated outside any transaction (services.esign.services).
    """
    _demo_world(password)


@pytest.fixture
def demo_with_history(transactional_db: None, password: str) -> None:
    """The whole demo, as ``make run`` seeds it: the four lots and the control chart's
    23 history lots (EVX-23-*), its limits signed and one out-of-trend notice."""
    _demo_world(password, history=True)


def _evaluate_every_lot() -> None:
    from qc.models import Lot
    from qc.services.evaluation import lot_evaluate

    for lot in Lot.objects.all():
        lot_evaluate(lot_id=lot.pk)


@pytest.fixture
def evaluated_demo(demo_world: None) -> None:
    """The demo lots, each evaluated once (as the worker would have done)."""
    _evaluate_every_lot()


@pytest.fixture
def evaluated_demo_with_history(demo_with_history: None) -> None:
    """The whole demo with its history lots, every lot evaluated once."""
    _evaluate_every_lot()


def conforming_results(run_prefix: str) -> list[dict[str, Any]]:
    """The demo's conforming result set for runs named ``<run_prefix>-NTA`` etc."""
    from qc.demo import MARKERS, _curve

    def item(test: str, value: str, unit: str = "", **extra: Any) -> dict[str, Any]:
        return {
            "test": test,
            "value": value,
            "unit": unit,
            "performed_by": "analyst",
            "performed_at": "2026-01-10T10:00:00Z",
            **extra,
        }

    return [
        item("NTA-CONC", "2.05e11", "particles/mL", run=f"{run_prefix}-NTA", replicate=1),
        item("NTA-CONC", "2.1e11", "particles/mL", run=f"{run_prefix}-NTA", replicate=2),
        item("NTA-CONC", "2.0e11", "particles/mL", run=f"{run_prefix}-NTA", replicate=3),
        item("NTA-MODE", "112", "nm", run=f"{run_prefix}-NTA"),
        item("TRPS-MODE", "105", "nm", run=f"{run_prefix}-TRPS"),
        item("BCA", "4.2", "µg/mL"),
        item("LAL", "< 0.05", "EU/mL", run=f"{run_prefix}-LAL"),
        item("MYCO", "not detected"),
        item("STERILITY", "no growth"),
        item("POTENCY", "95", "%", run=f"{run_prefix}-POTENCY", raw_data=_curve(0.95)),
        *[
            item(code, "not detected" if marker in {"calnexin", "GM130"} else "detected")
            for marker, code in MARKERS.items()
        ],
    ]


def post_runs(client: Any, run_prefix: str, *, bead_mode: str = "101") -> None:
    """Post the four runs of a lot with their reference-material controls over the API."""
    runs = {
        "NTA": ("NTA-CONC", [("NIST-PS100", "2026-01", "NTA-MODE", bead_mode, "nm")]),
        "TRPS": ("TRPS-MODE", [("NIST-PS100", "2026-01", "TRPS-MODE", "99", "nm")]),
        "LAL": ("LAL", [("CSE-2026", "L-0426", "LAL-SPIKE", "92", "%")]),
        "POTENCY": ("POTENCY", [("EVX-REF-001", "R1", "POTENCY", "100", "%")]),
    }
    for key, (method, controls) in runs.items():
        response = client.post(
            "/api/v1/assay-runs/",
            {
                "external_run_id": f"{run_prefix}-{key}",
                "method": method,
                "analyst": "analyst",
                "started_at": "2026-01-10T08:00:00Z",
                "ended_at": "2026-01-10T09:00:00Z",
                "controls": [
                    {
                        "reference_material": code,
                        "reference_lot": lot,
                        "test": test,
                        "value": value,
                        "unit": unit,
                    }
                    for code, lot, test, value, unit in controls
                ],
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"run-{run_prefix}-{key}",
        )
        assert response.status_code == 201, response.content
