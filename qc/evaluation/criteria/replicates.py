"""``replicates``: n replicates per run, each within limits, optional mean and CV.

Params::

    {"min": "1.6e11", "max": "2.4e11", "n": 3, "max_cv_percent": "10",
     "report": "mean", "requires_run": true}

``report`` is ``"each"`` (default) or ``"mean"``. Alert params: limit keys and/or a
tighter ``max_cv_percent``.

Rules (FDA OOS guidance; DOMAIN §3):

* Replicates are grouped by run (results without a run form one group).
* Every valid replicate is judged against the limits on its own: an OOS replicate is
  never averaged away, whatever the mean or the CV say.
* With ``report: "mean"`` the mean of each complete group is judged too.
* A group is complete with ``n`` distinct replicate numbers. Its CV (sample standard
  deviation / mean x 100, rounded to the places of ``max_cv_percent``) above the limit
  makes the *group* invalid (assay precision, like a failed system suitability:
  repeat, no OOS), and so does a mean that cannot be computed from censored values.
* The line conforms when no replicate or mean fails and at least one group is
  complete and precise; other groups are reported in the notes. Otherwise it is
  ``invalid`` if some group was invalid, else ``missing`` (fewer than ``n``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    canonical_unit,
    check_keys,
    param_int,
    where,
)
from qc.evaluation.criteria.numeric import Judged, NumericLimits, numeric_check
from qc.evaluation.limits import LIMIT_KEYS, param_decimal
from qc.evaluation.rounding import DECIMAL_CONTEXT, format_decimal, places_of, round_half_up
from qc.evaluation.types import CriterionError, LineEvaluation, LineVerdict, ResultInput, SpecLine

_HUNDRED = Decimal(100)


def mean_of(values: Sequence[Decimal]) -> Decimal:
    return DECIMAL_CONTEXT.divide(sum(values, Decimal(0)), Decimal(len(values)))


def cv_percent(values: Sequence[Decimal]) -> Decimal | None:
    """Sample CV in percent (n - 1 in the variance); None when undefined (mean 0, n < 2)."""
    if len(values) < 2:
        return None
    mean = mean_of(values)
    if not mean:
        return None
    squares = sum(((v - mean) ** 2 for v in values), Decimal(0))
    variance = DECIMAL_CONTEXT.divide(squares, Decimal(len(values) - 1))
    return DECIMAL_CONTEXT.divide(variance.sqrt(DECIMAL_CONTEXT) * _HUNDRED, abs(mean))


class Replicates(CompiledLine):
    __slots__ = ("alert_cv", "limits", "max_cv", "n", "report_mean", "unit")

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        keys = {"n", "max_cv_percent", "report"}
        check_keys(line.params, LIMIT_KEYS | keys | self.COMMON_KEYS, where=context)
        alert = line.alert_params or {}
        check_keys(alert, LIMIT_KEYS | {"max_cv_percent"}, where=f"{context} alert")
        self.unit = canonical_unit(line)
        self.limits = NumericLimits.from_line(line, unit=self.unit, where=context)
        self.n = param_int(line.params, "n", 1, where=context, minimum=1)
        self.max_cv = param_decimal(line.params, "max_cv_percent", where=context)
        self.alert_cv = param_decimal(alert, "max_cv_percent", where=f"{context} alert")
        for cv in (self.max_cv, self.alert_cv):
            if cv is not None and cv <= 0:
                raise CriterionError(f"{context}: 'max_cv_percent' must be above 0")
        if self.alert_cv is not None and (self.max_cv is None or self.alert_cv > self.max_cv):
            raise CriterionError(f"{context}: the alert CV must be at or below 'max_cv_percent'")
        if (self.max_cv is not None) and self.n < 2:
            raise CriterionError(f"{context}: a CV needs 'n' of at least 2")
        report = line.params.get("report", "each")
        if report not in ("each", "mean"):
            raise CriterionError(f'{context}: \'report\' must be "each" or "mean"')
        self.report_mean = report == "mean"

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        selection = self.select(ctx, self.line.test_code, unit=self.unit, check=numeric_check)
        if not selection.valid:
            return self.not_judgeable([selection], missing="no result yet")
        groups: dict[str, list[ResultInput]] = {}
        for result in selection.valid:
            groups.setdefault(result.run_id or "", []).append(result)
        judged: list[Judged] = []
        group_problems: list[str] = []  # groups that are complete but invalid
        incomplete: list[str] = []
        alerts: list[str] = []
        summaries: list[str] = []
        good_groups = 0
        for run_id in sorted(groups):
            members = groups[run_id]
            where_text = f"run {run_id}" if run_id else "results without a run"
            judged += [
                self.limits.judge(
                    r.value,  # type: ignore[arg-type]  # numeric_check ensured a value
                    r.qualifier,
                    label=r.result_id,
                    subject=f"replicate {r.replicate}, result {r.result_id}",
                    result_ids=(r.result_id,),
                )
                for r in members
            ]
            count = len({r.replicate for r in members})
            if count < self.n:
                incomplete.append(f"{where_text} has {count} of {self.n} replicates")
                continue
            censored = [r.result_id for r in members if r.qualifier is not None]
            if censored and (self.report_mean or self.max_cv is not None):
                group_problems.append(
                    f"{where_text}: mean and CV cannot be computed from detection limits "
                    f"({', '.join(censored)})"
                )
                continue
            values = [r.value for r in members if r.value is not None]
            problem, cv_text = self._precision(values, where_text, alerts)
            if problem:
                group_problems.append(problem)
                continue
            good_groups += 1
            if self.report_mean:
                ids = tuple(r.result_id for r in members)
                judged.append(
                    self.limits.judge(
                        self.limits.computed(mean_of(values)),
                        None,
                        label=f"mean {run_id}".strip(),
                        subject=f"mean of {where_text}",
                        result_ids=ids,
                    )
                )
            summaries.append(f"{where_text}: {count} replicates{cv_text}")
        shown = [self.limits.shown(j) for j in judged]
        notes = [*group_problems, *incomplete]
        if any(j.fails for j in judged):
            verdict, reason, failing = self.limits.verdict(judged)
            return self.finish(
                verdict, reason, selections=[selection], failing=failing, shown=shown, notes=notes
            )
        if not good_groups:
            name = self.line.name
            if group_problems:
                reason = f"{name}: no valid replicate set ({'; '.join(group_problems)})"
                return self.finish(
                    LineVerdict.INVALID,
                    f"{reason}; needs a valid repeat",
                    selections=[selection],
                    shown=shown,
                    notes=notes,
                )
            return self.not_judgeable(
                [selection], missing="; ".join(incomplete), notes=group_problems
            )
        verdict, reason, _ = self.limits.verdict(
            judged, extra_alerts=alerts, extra_conformance=f" ({'; '.join(summaries)})"
        )
        return self.finish(verdict, reason, selections=[selection], shown=shown, notes=notes)

    def _precision(
        self, values: list[Decimal], where_text: str, alerts: list[str]
    ) -> tuple[str | None, str]:
        """(problem, text) of a complete group's CV; appends an alert phrase if any."""
        if self.max_cv is None:
            return None, ""
        cv = cv_percent(values)
        if cv is None:
            return f"{where_text}: the CV is undefined (mean of zero)", ""
        shown_cv = round_half_up(cv, places_of(self.max_cv))
        text = f"{format_decimal(shown_cv)} %"
        if shown_cv > self.max_cv:
            return (
                f"{where_text}: CV {text} is above the {format_decimal(self.max_cv)} % "
                "precision limit",
                "",
            )
        if self.alert_cv is not None and shown_cv > self.alert_cv:
            alerts.append(
                f"{where_text} CV {text} is above the {format_decimal(self.alert_cv)} % alert limit"
            )
        return None, f", CV {text}"
