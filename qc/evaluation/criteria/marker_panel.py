"""``marker_panel``: identity and purity from EV marker readings (MISEV2018).

Each marker is its own test with a qualitative reading ("detected" / "not
detected"); ``markers`` maps the marker name to that test's code, so a Western blot,
a bead-flow panel or single-EV flow all post ordinary results. Params::

    {"markers": {"CD9": "WB-CD9", "CD63": "WB-CD63", "CD81": "WB-CD81",
                 "TSG101": "WB-TSG101", "ALIX": "WB-ALIX", "syntenin": "WB-SDCBP",
                 "calnexin": "WB-CANX", "GM130": "WB-GM130"},
     "positive": ["CD9", "CD63", "CD81", "TSG101", "ALIX", "syntenin"],
     "min_positive": 3,
     "groups": {"tetraspanin": ["CD9", "CD63", "CD81"],
                "cytosolic": ["TSG101", "ALIX", "syntenin"]},
     "negative": ["calnexin", "GM130"],
     "requires_run": false}

Optional ``detected`` / ``not_detected`` lists replace the accepted readings
(defaults below). ``min_positive`` defaults to every positive marker.

The verdict is what every possible completion of the missing readings would give:
``conforms`` if all would conform (e.g. 3 positives already shown: a 4th is not
needed), ``does_not_conform`` if none could (a negative marker detected, too few
positives left, a group with every member not detected), otherwise ``missing`` (or
``invalid`` when a marker still needed has only invalid results). A missing reading
is never a failure; a marker whose valid readings disagree counts as detected for a
negative marker and as not detected for a positive one (every result is judged).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    check_keys,
    normalise_text,
    param_int,
    param_text_list,
    where,
)
from qc.evaluation.selection import Selection
from qc.evaluation.types import (
    CriterionError,
    LineEvaluation,
    LineVerdict,
    ResultInput,
    ShownValue,
    SpecLine,
)

DEFAULT_DETECTED = ("detected", "positive", "present", "pos", "+")
DEFAULT_NOT_DETECTED = ("not detected", "negative", "absent", "neg", "nd", "n.d.", "-")

Status = Literal["detected", "not_detected", "conflicting", "unknown"]
_STATUS_TEXT: Mapping[Status, str] = {
    "detected": "detected",
    "not_detected": "not detected",
    "conflicting": "conflicting readings",
    "unknown": "no result",
}


def _names(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(names)


class MarkerPanel(CompiledLine):
    __slots__ = (
        "detected",
        "groups",
        "markers",
        "min_positive",
        "negative",
        "not_detected",
        "positive",
    )

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        params = line.params
        check_keys(
            params,
            {"markers", "positive", "min_positive", "groups", "negative", "detected"}
            | {"not_detected"}
            | self.COMMON_KEYS,
            where=context,
        )
        if line.alert_params:
            raise CriterionError(f"{context}: a marker panel has no alert limits")
        self.markers = self._markers(params.get("markers"), context)
        self.positive = param_text_list(params, "positive", where=context)
        self.negative = param_text_list(params, "negative", where=context)
        if not self.positive and not self.negative:
            raise CriterionError(f"{context}: give 'positive' markers, 'negative' markers or both")
        for name in (*self.positive, *self.negative):
            if name not in self.markers:
                raise CriterionError(f"{context}: marker {name!r} has no test in 'markers'")
        both = sorted(set(self.positive) & set(self.negative))
        if both:
            raise CriterionError(f"{context}: {_names(both)} cannot be positive and negative")
        if len(set(self.positive)) != len(self.positive):
            raise CriterionError(f"{context}: 'positive' lists a marker twice")
        self.min_positive = param_int(
            params, "min_positive", len(self.positive), where=context, minimum=0
        )
        if self.min_positive > len(self.positive):
            raise CriterionError(
                f"{context}: 'min_positive' {self.min_positive} exceeds the "
                f"{len(self.positive)} positive markers"
            )
        self.groups = self._groups(params.get("groups", {}), context)
        self.detected = self._vocabulary(params, "detected", DEFAULT_DETECTED, context)
        self.not_detected = self._vocabulary(params, "not_detected", DEFAULT_NOT_DETECTED, context)
        if self.detected & self.not_detected:
            raise CriterionError(f"{context}: a reading cannot mean detected and not detected")
        self.test_codes = tuple(self.markers[m] for m in (*self.positive, *self.negative))

    @staticmethod
    def _markers(raw: object, context: str) -> dict[str, str]:
        if not isinstance(raw, Mapping) or not raw:
            raise CriterionError(f"{context}: 'markers' must map marker names to test codes")
        markers: dict[str, str] = {}
        for name, code in raw.items():
            if not isinstance(name, str) or not isinstance(code, str) or not code.strip():
                raise CriterionError(f"{context}: 'markers' must map marker names to test codes")
            markers[name] = code.strip()
        if len(set(markers.values())) != len(markers):
            raise CriterionError(f"{context}: two markers share one test code")
        return markers

    def _groups(self, raw: object, context: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not isinstance(raw, Mapping):
            raise CriterionError(f"{context}: 'groups' must map group names to marker lists")
        groups = []
        for name, members in sorted(raw.items()):
            member_list = param_text_list({"group": members}, "group", where=f"{context} group")
            if not member_list:
                raise CriterionError(f"{context}: group {name!r} is empty")
            outside = [m for m in member_list if m not in self.positive]
            if outside:
                raise CriterionError(
                    f"{context}: group {name!r} names {_names(outside)}, not positive markers"
                )
            groups.append((str(name), member_list))
        return tuple(groups)

    @staticmethod
    def _vocabulary(
        params: Mapping[str, object], key: str, default: tuple[str, ...], context: str
    ) -> frozenset[str]:
        if key not in params:
            return frozenset(default)
        words = param_text_list(params, key, where=context)
        if not words:
            raise CriterionError(f"{context}: '{key}' needs at least one reading")
        return frozenset(normalise_text(w) for w in words)

    # -- evaluation ---------------------------------------------------------

    def _reading(self, result: ResultInput) -> str | None:
        text = normalise_text(result.text_value or "")
        if text in self.detected or text in self.not_detected:
            return None
        if not text:
            return "no reading (text value) was reported"
        return f"reading {result.text_value!r} is neither detected nor not detected"

    def _status(self, selection: Selection) -> Status:
        readings = {normalise_text(r.text_value or "") in self.detected for r in selection.valid}
        if not readings:
            return "unknown"
        if readings == {True}:
            return "detected"
        if readings == {False}:
            return "not_detected"
        return "conflicting"

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        names = (*self.positive, *self.negative)
        selections = {m: self.select(ctx, self.markers[m], check=self._reading) for m in names}
        status = {m: self._status(selections[m]) for m in names}
        failures: list[str] = []
        failing: set[str] = set()
        pending: list[str] = []
        needed: set[str] = set()  # unknown markers the verdict waits for

        def readings_of(marker: str, detected: bool) -> set[str]:
            return {
                r.result_id
                for r in selections[marker].valid
                if (normalise_text(r.text_value or "") in self.detected) == detected
            }

        # Negative markers (purity): any detection fails, an unknown one is awaited.
        present = [m for m in self.negative if status[m] in ("detected", "conflicting")]
        if present:
            failures.append(f"negative marker(s) detected: {_names(present)}")
            for m in present:
                failing |= readings_of(m, True)
        unknown_negative = [m for m in self.negative if status[m] == "unknown"]
        if unknown_negative:
            pending.append(f"no result yet for negative marker(s) {_names(unknown_negative)}")
            needed.update(unknown_negative)

        # Positive markers (identity): enough detected, counting what may still come.
        shown_positive = [m for m in self.positive if status[m] == "detected"]
        unknown_positive = [m for m in self.positive if status[m] == "unknown"]
        absent = [m for m in self.positive if status[m] in ("not_detected", "conflicting")]
        if len(shown_positive) + len(unknown_positive) < self.min_positive:
            failures.append(
                f"only {len(shown_positive)} of the required {self.min_positive} positive "
                f"markers detected ({_names(shown_positive) or 'none'}); "
                f"not detected: {_names(absent)}"
            )
            for m in absent:
                failing |= readings_of(m, False)
        elif len(shown_positive) < self.min_positive:
            pending.append(
                f"{len(shown_positive)} of the required {self.min_positive} positive markers "
                f"detected so far; no result yet for {_names(unknown_positive)}"
            )
            needed.update(unknown_positive)

        for group, members in self.groups:
            if any(status[m] == "detected" for m in members):
                continue
            waiting = [m for m in members if status[m] == "unknown"]
            if waiting:
                pending.append(f"group {group}: no result yet for {_names(waiting)}")
                needed.update(waiting)
            else:
                failures.append(f"no {group} marker detected ({_names(members)})")
                for m in members:
                    failing |= readings_of(m, False)

        shown = [ShownValue(m, None, _STATUS_TEXT[status[m]]) for m in names]
        all_selections = [selections[m] for m in names]
        name = self.line.name
        if failures:
            return self.finish(
                LineVerdict.DOES_NOT_CONFORM,
                f"{name}: {'; '.join(failures)}",
                selections=all_selections,
                failing=failing,
                shown=shown,
            )
        if pending:
            invalid = [why for m in sorted(needed) for _, why in selections[m].invalid]
            if invalid:
                reason = (
                    f"{name}: {'; '.join(pending)} "
                    f"(invalid: {'; '.join(dict.fromkeys(invalid))}); needs a valid repeat"
                )
                return self.finish(
                    LineVerdict.INVALID, reason, selections=all_selections, shown=shown
                )
            return self.finish(
                LineVerdict.MISSING,
                f"{name}: {'; '.join(pending)}",
                selections=all_selections,
                shown=shown,
            )
        parts = []
        if self.positive:
            parts.append(
                f"{len(shown_positive)} of {len(self.positive)} positive markers detected "
                f"({_names(shown_positive) or 'none'}; at least {self.min_positive} required)"
            )
        if self.groups:
            parts.append("every marker group represented")
        if self.negative:
            parts.append(f"negative markers not detected ({_names(self.negative)})")
        return self.finish(
            LineVerdict.CONFORMS,
            f"{name}: {'; '.join(parts)}",
            selections=all_selections,
            shown=shown,
        )
