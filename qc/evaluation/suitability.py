"""System suitability of assay runs.

FDA OOS guidance (2006, rev. 2022): when the system suitability of a run fails, the
run is not used: its results are *invalid*, not out of specification; the run is
repeated and no OOS investigation of the product is opened. A run is suitable only if
every reference-material control in it

* comes from a material whose status is ``released`` (not quarantined, not expired),
* was used on or before the material's expiry date (the run date is compared), and
* measured within its acceptance range (inclusive; the caller expands certified
  value +/- tolerance into ``low``/``high``, e.g. a 100 nm bead +/-10 %: 90-110 nm).

A run with no control at all shows no suitability and is therefore not suitable.
"""

from __future__ import annotations

from qc.evaluation.rounding import format_decimal
from qc.evaluation.types import ControlInput, RunInput

RELEASED = "released"


def _run_label(run: RunInput) -> str:
    return f"{run.technique} run {run.run_id}" if run.technique else f"run {run.run_id}"


def _control_key(control: ControlInput) -> tuple[str, str, str, str]:
    return (control.reference_code, control.reference_lot, control.test_code, control.label)


def _with_unit(value: str, unit: str) -> str:
    return f"{value} {unit}" if unit else value


def control_problems(run: RunInput) -> list[str]:
    """Every reason the run's controls fail, in a stable order (empty: suitable)."""
    problems: list[str] = []
    for control in sorted(run.controls, key=_control_key):
        material = f"reference material {control.reference_code} lot {control.reference_lot}"
        status = control.reference_status.strip().casefold()
        if status != RELEASED:
            problems.append(f"{material} is {control.reference_status or 'without status'}")
        elif run.run_date > control.reference_expiry:
            problems.append(
                f"{material} expired on {control.reference_expiry.isoformat()} "
                f"(run on {run.run_date.isoformat()})"
            )
        if not control.low <= control.measured <= control.high:
            what = control.label or f"{control.reference_code} {control.test_code}"
            measured = _with_unit(format_decimal(control.measured), control.unit)
            accepted = _with_unit(
                f"{format_decimal(control.low)}\u2013{format_decimal(control.high)}", control.unit
            )
            problems.append(f"{what} {measured} outside {accepted}")
    return problems


def run_problem(run: RunInput) -> str | None:
    """Why a run fails system suitability, as one sentence; ``None`` if it is suitable.

    E.g. ``"NTA run R-17: bead control mode 121 nm outside 90-110 nm"`` (en dash).
    """
    label = _run_label(run)
    if not run.controls:
        return f"{label} has no reference-material control, so system suitability is not shown"
    problems = control_problems(run)
    if not problems:
        return None
    return f"{label}: {'; '.join(problems)}"
