"""Release and alert limits of a numeric line, and the sentences about them.

Shared by every numeric criterion so that a value is judged, rounded and described the
same way everywhere. Alert limits (Veeva's "control spec", SENAITE's "shoulders") sit
inside the release limits: a value between them conforms, with an alert for QA's
trend review; it never changes a pass into a fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from qc.evaluation.limits import LIMIT_KEYS, Limits, Outcome, outcome_phrase, show
from qc.evaluation.rounding import round_half_up, round_significant
from qc.evaluation.types import LineVerdict, Qualifier, ResultInput, ShownValue, SpecLine

#: significant figures kept for computed values on a line without ``decimals``
COMPUTED_FIGURES = 4


@dataclass(frozen=True, slots=True)
class Judged:
    """One number judged against a line's limits (a result, a mean, a ratio, ...)."""

    label: str
    subject: str
    result_ids: tuple[str, ...]
    value: Decimal
    qualifier: Qualifier | None
    outcome: Outcome
    alert: Outcome

    @property
    def fails(self) -> bool:
        return self.outcome != "inside"

    @property
    def alerts(self) -> bool:
        return self.alert != "inside"


def alert_limits(
    alert_params: Mapping[str, Any] | None, release: Limits, *, where: str
) -> Limits | None:
    """Alert limits from the line's alert params (same keys as release), if any."""
    if not alert_params or not (LIMIT_KEYS & set(alert_params)):
        return None
    limits = Limits.from_params(alert_params, where=f"{where} alert")
    limits.check_within(release, where=where)
    return limits


class NumericLimits:
    """A line's release and alert limits with its name, unit and rounding."""

    __slots__ = ("alert", "decimals", "name", "release", "unit")

    def __init__(
        self,
        *,
        name: str,
        unit: str,
        decimals: int | None,
        release: Limits,
        alert: Limits | None,
    ) -> None:
        self.name = name
        # A dimensionless canonical unit ("1") reads better as no unit at all: "pH 7.4".
        self.unit = "" if unit == "1" else unit
        self.decimals = decimals
        self.release = release
        self.alert = alert

    @classmethod
    def from_line(cls, line: SpecLine, *, unit: str, where: str) -> NumericLimits:
        release = Limits.from_params(line.params, where=where)
        return cls(
            name=line.name,
            unit=unit,
            decimals=line.decimals,
            release=release,
            alert=alert_limits(line.alert_params, release, where=where),
        )

    def computed(self, value: Decimal, qualifier: Qualifier | None = None) -> Decimal:
        """A computed value (mean, ratio, potency) ready for judging.

        With ``decimals`` the judgement rounds it (USP GN 7.20). Without, it is kept to
        COMPUTED_FIGURES significant figures so the reason shows the very number that
        was compared; a censored bound is rounded outwards (``<`` up, ``>`` down) so the
        rounding never claims more than the data show.
        """
        if self.decimals is not None:
            return value
        rounding = (
            ROUND_CEILING if qualifier == "<" else ROUND_FLOOR if qualifier else ROUND_HALF_UP
        )
        return round_significant(value, COMPUTED_FIGURES, rounding)

    def judge(
        self,
        value: Decimal,
        qualifier: Qualifier | None,
        *,
        label: str,
        subject: str,
        result_ids: tuple[str, ...],
    ) -> Judged:
        outcome = self.release.judge(value, qualifier, self.decimals)
        alert: Outcome = "inside"
        if self.alert is not None and outcome == "inside":
            alert = self.alert.judge(value, qualifier, self.decimals)
        return Judged(label, subject, result_ids, value, qualifier, outcome, alert)

    def shown(self, judged: Judged) -> ShownValue:
        number = judged.value
        if judged.qualifier is None:
            number = round_half_up(number, self.decimals)
        text = show(judged.value, judged.qualifier, self.unit, self.decimals)
        return ShownValue(judged.label, number, text)

    def failure(self, judged: Judged, *, name_subject: bool) -> str:
        phrase = outcome_phrase(
            judged.outcome,
            value=judged.value,
            qualifier=judged.qualifier,
            limits=self.release,
            unit=self.unit,
            decimals=self.decimals,
            subject=judged.subject if name_subject else "",
        )
        return f"{self.name} {phrase}"

    def conformance(self, judged: Sequence[Judged]) -> str:
        limit = self.release.describe(self.unit, self.decimals)
        noun = "release range" if self.release.two_sided else "release limit"
        if len(judged) == 1:
            return f"{self.name} {self.shown(judged[0]).text} conforms to the {noun} {limit}"
        values = "; ".join(f"{self.shown(j).text} ({j.subject})" for j in judged)
        return f"{self.name}: all {len(judged)} values conform to the {noun} {limit} ({values})"

    def alert_phrase(self, judged: Judged, *, name_subject: bool) -> str:
        assert self.alert is not None  # only called for values that alert
        limit = self.alert.describe(self.unit, self.decimals)
        noun = "alert range" if self.alert.two_sided else "alert limit"
        subject = f" ({judged.subject})" if name_subject else ""
        shown = self.shown(judged).text
        if judged.alert in ("unproven_high", "unproven_low"):
            return f"{shown}{subject} does not demonstrate the {noun} {limit}"
        return f"{shown}{subject} is outside the {noun} {limit}"

    def verdict(
        self,
        judged: Sequence[Judged],
        *,
        extra_failures: Iterable[tuple[str, Iterable[str]]] = (),
        extra_alerts: Iterable[str] = (),
        extra_conformance: str = "",
    ) -> tuple[LineVerdict, str, tuple[str, ...]]:
        """Line verdict, reason and failing result ids for a set of judged values.

        Every value is judged on its own: one failing value fails the line, whatever
        the others say (FDA OOS guidance: no averaging an OOS away).
        ``extra_failures`` are other failed checks of the line as (sentence, ids);
        ``extra_alerts`` other alert phrases; ``extra_conformance`` is appended to the
        conformance sentence (e.g. "; NTA and TRPS agree within 5 %").
        """
        many = len(judged) > 1
        failures = [self.failure(j, name_subject=many) for j in judged if j.fails]
        failing = {rid for j in judged if j.fails for rid in j.result_ids}
        for sentence, ids in extra_failures:
            failures.append(sentence)
            failing.update(ids)
        if failures:
            return LineVerdict.DOES_NOT_CONFORM, "; ".join(failures), tuple(sorted(failing))
        alerts = [self.alert_phrase(j, name_subject=many) for j in judged if j.alerts]
        alerts += list(extra_alerts)
        conformance = self.conformance(judged) + extra_conformance
        if alerts:
            return (
                LineVerdict.CONFORMS_WITH_ALERT,
                f"{conformance}, but {'; '.join(alerts)}",
                (),
            )
        return LineVerdict.CONFORMS, conformance, ()


def numeric_check(result: ResultInput) -> str | None:
    """Shape check for numeric criteria: a number is needed."""
    if result.value is None:
        return "no numeric value was reported"
    return None
