"""The pure evaluation core: plain data in, verdicts with reasons out.

No Django, no ORM, no I/O. The Celery side converts ORM rows into the dataclasses of
:mod:`qc.evaluation.types` and calls :func:`evaluate_lot`; ``spec_impact`` compiles a
specification once with :func:`compile_spec` and evaluates many lots against it.
"""

from qc.evaluation.criteria import CRITERIA, validate_params
from qc.evaluation.engine import (
    ENGINE_VERSION,
    CompiledSpec,
    compile_spec,
    evaluate_lot,
    lot_verdict,
)
from qc.evaluation.selection import Selection, select_results
from qc.evaluation.suitability import run_problem
from qc.evaluation.types import (
    ControlInput,
    CriterionError,
    LineEvaluation,
    LineVerdict,
    LotEvaluation,
    LotInput,
    LotVerdict,
    ResultInput,
    RunInput,
    ShownValue,
    SpecLine,
)

CRITERION_TYPES: tuple[str, ...] = tuple(sorted(CRITERIA))

__all__ = [
    "CRITERION_TYPES",
    "ENGINE_VERSION",
    "CompiledSpec",
    "ControlInput",
    "CriterionError",
    "LineEvaluation",
    "LineVerdict",
    "LotEvaluation",
    "LotInput",
    "LotVerdict",
    "ResultInput",
    "RunInput",
    "Selection",
    "ShownValue",
    "SpecLine",
    "compile_spec",
    "evaluate_lot",
    "lot_verdict",
    "run_problem",
    "select_results",
    "validate_params",
]
