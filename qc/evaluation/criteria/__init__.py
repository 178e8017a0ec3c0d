"""The criterion types: one small module each, and the registry naming them.

A specification line stores its criterion type by name and its parameters as data;
:func:`compile_line` turns it into a :class:`~qc.evaluation.criteria.base.CompiledLine`
after checking the parameters, so a bad line is refused when the spec is written,
not when a lot is released.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from qc.evaluation.criteria.base import CompiledLine, LotContext
from qc.evaluation.criteria.derived_ratio import DerivedRatio
from qc.evaluation.criteria.marker_panel import MarkerPanel
from qc.evaluation.criteria.numeric_range import NumericRange
from qc.evaluation.criteria.orthogonal_size import OrthogonalSize
from qc.evaluation.criteria.process_fact import ProcessFact
from qc.evaluation.criteria.qualitative import Qualitative
from qc.evaluation.criteria.relative_potency import RelativePotency
from qc.evaluation.criteria.replicates import Replicates
from qc.evaluation.types import CriterionError, SpecLine

CRITERIA: Mapping[str, type[CompiledLine]] = MappingProxyType(
    {
        "numeric_range": NumericRange,
        "qualitative": Qualitative,
        "process_fact": ProcessFact,
        "marker_panel": MarkerPanel,
        "orthogonal_size": OrthogonalSize,
        "derived_ratio": DerivedRatio,
        "replicates": Replicates,
        "relative_potency": RelativePotency,
    }
)

__all__ = ["CRITERIA", "CompiledLine", "LotContext", "compile_line", "validate_params"]


def compile_line(line: SpecLine) -> CompiledLine:
    """Validate a specification line and prepare it for evaluation."""
    criterion = CRITERIA.get(line.criterion_type)
    if criterion is None:
        known = ", ".join(sorted(CRITERIA))
        raise CriterionError(
            f"spec line {line.line_id}: unknown criterion type {line.criterion_type!r}; "
            f"known types: {known}"
        )
    if not isinstance(line.params, Mapping):
        raise CriterionError(f"spec line {line.line_id}: parameters must be an object")
    if line.alert_params is not None and not isinstance(line.alert_params, Mapping):
        raise CriterionError(f"spec line {line.line_id}: alert parameters must be an object")
    return criterion(line)


def validate_params(
    criterion_type: str,
    params: Mapping[str, Any],
    *,
    alert_params: Mapping[str, Any] | None = None,
    decimals: int | None = None,
    unit: str | None = None,
) -> None:
    """Raise :class:`CriterionError` if these parameters cannot make a valid line.

    ``unit`` is the test's canonical unit; numeric criteria need one, so when it is
    omitted only the parameters are checked (a dimensionless unit stands in).
    """
    line = SpecLine(
        line_id="(new)",
        test_code="(test)",
        criterion_type=criterion_type,
        params=params,
        alert_params=alert_params,
        decimals=decimals,
        unit="1" if unit is None else unit,
    )
    compile_line(line)
