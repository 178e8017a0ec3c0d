"""Property-based tests across units and the engine: the promises that must always hold."""

import math
import random
from dataclasses import replace
from decimal import Context, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qc.evaluation import ResultInput, RunInput, SpecLine, evaluate_lot
from qc.evaluation.bioassay import logistic, parallel_line
from qc.evaluation.bioassay.data import read_assay
from qc.evaluation.bioassay.parallel_line import Settings
from qc.evaluation.bioassay.report import AssayReport
from qc.units import conversion_factor, parse_quantity, to_canonical
from tests.qc.evaluation.builders import control, evaluate_line, line, lot, result, run

WIDE = Context(prec=80)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- a value inside limits conforms in every unit it can be posted in --------------

SIZE_LINE = line("S", "MODE", params={"min": 50, "max": 200}, decimals=1, unit="nm", name="Mode")
CONC_LINE = line(
    "C", "CONC", params={"min": "1e11", "max": "5e11"}, unit="particles/mL", name="Concentration"
)


@pytest.mark.requirement("USP-GN-rounding")
@FAST
@given(
    value=st.decimals(min_value=50, max_value=200, places=3),
    unit=st.sampled_from(["nm", "\u00b5m", "um", "pm", "mm", "m", "cm"]),
)
def test_a_size_inside_limits_conforms_in_every_unit(value: Decimal, unit: str) -> None:
    posted = WIDE.divide(value, conversion_factor(unit, "nm"))
    reading = parse_quantity(f"{posted} {unit}")
    canonical = to_canonical(reading.value, reading.unit_text, "nm")
    assert canonical == value
    evaluation = evaluate_line(SIZE_LINE, [result("M-1", "MODE", canonical, unit="nm")])
    assert evaluation.verdict == "conforms"


@FAST
@given(
    value=st.decimals(min_value=Decimal("1e11"), max_value=Decimal("5e11"), places=0),
    volume=st.sampled_from(["L", "mL", "\u00b5L", "nL", "pL"]),
    power=st.integers(min_value=0, max_value=12),
    style=st.sampled_from(["x10^{p} particles/{v}", "\u00d710^{p}/{v}", "E{p} Particles / {v}"]),
)
def test_a_concentration_inside_limits_conforms_however_it_is_written(
    value: Decimal, volume: str, power: int, style: str
) -> None:
    unit_text = style.format(p=power, v=volume)
    posted = WIDE.divide(value, conversion_factor(unit_text, "particles/mL"))
    reading = parse_quantity(f"{posted} {unit_text}")
    canonical = to_canonical(reading.value, reading.unit_text, "particles/mL")
    assert canonical == value
    evaluation = evaluate_line(CONC_LINE, [result("C-1", "CONC", canonical, unit="particles/mL")])
    assert evaluation.verdict == "conforms"


# -- OOS never averaged away ---------------------------------------------------------

ENDO = line("E", "ENDO", params={"max": "0.50"}, decimals=2, unit="EU/mL", name="Endotoxin")
PASSING = st.decimals(min_value=0, max_value=Decimal("0.50"), places=2)
FAILING = st.decimals(min_value=Decimal("0.51"), max_value=100, places=2)


@pytest.mark.requirement("FDA-OOS")
@FAST
@given(passing=st.lists(PASSING, min_size=1, max_size=6), oos=FAILING, data=st.data())
def test_an_oos_is_never_outweighed_by_passing_retests(
    passing: list[Decimal], oos: Decimal, data: st.DataObject
) -> None:
    values = data.draw(st.permutations([*passing, oos]))
    results = [result(f"E-{i}", value=v, unit="EU/mL") for i, v in enumerate(values)]
    evaluation = evaluate_line(ENDO, results)
    assert evaluation.verdict == "does_not_conform"
    oos_id = f"E-{values.index(oos)}"
    assert oos_id in evaluation.failing_result_ids


@pytest.mark.requirement("FDA-OOS")
@FAST
@given(
    passing=st.lists(st.decimals(min_value=90, max_value=110, places=1), min_size=2, max_size=5),
    oos=st.decimals(min_value=Decimal("130.1"), max_value=200, places=1),
)
def test_a_replicate_mean_never_hides_an_oos_replicate(
    passing: list[Decimal], oos: Decimal
) -> None:
    spec = line(
        "R", "POT", "replicates", {"min": 80, "max": 130, "report": "mean"}, decimals=1, unit="%"
    )
    results = [
        result(f"R-{i}", "POT", v, unit="%", replicate=i + 1) for i, v in enumerate([*passing, oos])
    ]
    evaluation = evaluate_line(spec, results)
    assert evaluation.verdict == "does_not_conform"
    assert f"R-{len(passing)}" in evaluation.failing_result_ids


# -- suitability failure is invalid, never OOS ---------------------------------------

SUITABILITY_SPEC = [
    ENDO,
    SIZE_LINE,
    line(
        "O",
        "SIZE",
        "orthogonal_size",
        {"min": 50, "max": 200, "tolerance_percent": 20, "test_codes": ["NTA", "TRPS"]},
        unit="nm",
    ),
    line("Q", "STER", "qualitative", {"allowed": ["no growth"]}),
    line("R", "POT", "replicates", {"min": 80, "max": 130, "n": 2, "max_cv_percent": 10}, unit="%"),
]
BAD_CONTROL = st.sampled_from(
    [control("121"), control("80"), control(status="quarantined"), control(status="expired")]
)


@pytest.mark.requirement("FDA-OOS")
@FAST
@given(
    values=st.lists(st.decimals(min_value=-1000, max_value=1000, places=2), min_size=1, max_size=8),
    texts=st.lists(st.sampled_from(["growth", "no growth", "turbid"]), min_size=1, max_size=3),
    bad=BAD_CONTROL,
)
def test_a_failed_suitability_makes_results_invalid_never_oos(
    values: list[Decimal], texts: list[str], bad: object
) -> None:
    codes = ["ENDO", "MODE", "NTA", "TRPS", "POT"]
    units = {"ENDO": "EU/mL", "POT": "%"}
    results = [
        result(
            f"V-{i}",
            codes[i % len(codes)],
            v,
            unit=units.get(codes[i % len(codes)], "nm"),
            technique=codes[i % len(codes)],
            replicate=i,
            run_id="R-BAD",
        )
        for i, v in enumerate(values)
    ]
    results += [result(f"T-{i}", "STER", text=t, run_id="R-BAD") for i, t in enumerate(texts)]
    evaluation = evaluate_lot(lot(), SUITABILITY_SPEC, results, [run("R-BAD", bad)])  # type: ignore[arg-type]
    assert evaluation.verdict in ("invalid", "incomplete")
    assert evaluation.failing_result_ids == ()
    for line_evaluation in evaluation.lines:
        assert line_evaluation.verdict in ("invalid", "missing")


# -- nothing depends on input order ----------------------------------------------------

ORDER_SPEC = [
    *SUITABILITY_SPEC,
    line(
        "P",
        "IDENTITY",
        "marker_panel",
        {
            "markers": {"CD9": "CD9", "CD63": "CD63", "calnexin": "CANX"},
            "positive": ["CD9", "CD63"],
            "min_positive": 1,
            "negative": ["calnexin"],
        },
    ),
    line(
        "D",
        "PURITY",
        "derived_ratio",
        {
            "numerator": "CONC",
            "numerator_unit": "particles/mL",
            "denominator": "BCA",
            "denominator_unit": "\u00b5g/mL",
            "min": "3e10",
        },
        unit="particles/\u00b5g",
    ),
    line("F", "ISO", "process_fact", {"field": "isolation", "allowed": ["SEC"]}),
]
TEST_UNITS = {
    "ENDO": "EU/mL",
    "MODE": "nm",
    "NTA": "nm",
    "TRPS": "nm",
    "POT": "%",
    "CONC": "particles/mL",
    "BCA": "\u00b5g/mL",
}
TEXT_TESTS = ["STER", "CD9", "CD63", "CANX"]
# Mostly plausible values (so lines also conform), sometimes wild ones.
PLAUSIBLE = {
    "ENDO": ("0.01", "0.6"),
    "MODE": ("40", "220"),
    "NTA": ("90", "130"),
    "TRPS": ("90", "130"),
    "POT": ("70", "140"),
    "CONC": ("1e11", "3e11"),
    "BCA": ("1", "12"),
}


@st.composite
def lot_inputs(draw: st.DrawFn) -> tuple[list[ResultInput], list[RunInput]]:
    runs = [run("R-OK"), run("R-BAD", control("121"))]
    results: list[ResultInput] = []
    for i in range(draw(st.integers(min_value=0, max_value=24))):
        extra = {
            "run_id": draw(st.sampled_from([None, None, "R-OK", "R-OK", "R-BAD", "R-UNKNOWN"])),
            "superseded": draw(st.booleans()) and draw(st.booleans()),
            "invalidated": draw(st.booleans()) and draw(st.booleans()),
            "replicate": draw(st.integers(min_value=1, max_value=3)),
        }
        if draw(st.booleans()):
            code = draw(st.sampled_from(sorted(TEST_UNITS)))
            low, high = PLAUSIBLE[code]
            value = draw(
                st.one_of(
                    st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=2),
                    st.decimals(min_value=1, max_value=Decimal("1e12"), places=2),
                )
            )
            qualifier = draw(st.sampled_from([None] * 8 + ["<", ">"]))
            results.append(
                result(
                    f"X-{i:02d}",
                    code,
                    value,
                    qualifier=qualifier,
                    unit=TEST_UNITS[code],
                    technique=code,
                    **extra,
                )
            )
        else:
            code = draw(st.sampled_from(TEXT_TESTS))
            text = draw(st.sampled_from(["no growth", "detected", "not detected", "odd"]))
            results.append(result(f"X-{i:02d}", code, text=text, **extra))
    return results, runs


@FAST
@given(inputs=lot_inputs(), data=st.data(), iso=st.sampled_from([None, "SEC", "precipitation"]))
def test_verdict_and_digest_never_depend_on_input_order(
    inputs: tuple[list[ResultInput], list[RunInput]], data: st.DataObject, iso: str | None
) -> None:
    results, runs = inputs
    the_lot = lot(**({"isolation": iso} if iso else {}))
    first = evaluate_lot(the_lot, ORDER_SPEC, results, runs)
    shuffled = evaluate_lot(
        the_lot,
        data.draw(st.permutations(ORDER_SPEC)),
        data.draw(st.permutations(results)),
        data.draw(st.permutations(runs)),
    )
    assert shuffled == first


@FAST
@given(inputs=lot_inputs())
def test_the_digest_changes_when_any_counted_value_changes(
    inputs: tuple[list[ResultInput], list[RunInput]],
) -> None:
    results, runs = inputs
    numeric = [r for r in results if r.value is not None]
    if not numeric:
        return
    base = evaluate_lot(lot(), ORDER_SPEC, results, runs).inputs_digest
    target = numeric[0]
    changed = [
        replace(r, value=r.value + 1) if r is target and r.value is not None else r for r in results
    ]
    assert evaluate_lot(lot(), ORDER_SPEC, changed, runs).inputs_digest != base


def test_spec_lines_are_all_valid() -> None:
    # Guard for the properties above: a broken fixture spec would make them vacuous.
    from qc.evaluation import compile_spec

    assert len(compile_spec(ORDER_SPEC).lines) == len(ORDER_SPEC)
    assert all(isinstance(s, SpecLine) for s in ORDER_SPEC)


# -- relative potency: invariances of the estimate (Ph. Eur. 5.3 §3.2) -----------------


@st.composite
def assays(draw: st.DrawFn) -> dict[str, list[dict[str, float]]]:
    """A parallel-line assay: 2-5 doses, 2-3 replicates, noisy linear responses."""
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    doses = [2.0**step for step in range(draw(st.integers(min_value=2, max_value=5)))]
    reps = draw(st.integers(min_value=2, max_value=3))
    slope = draw(st.sampled_from([-15.0, -3.0, 4.0, 12.0]))
    noise = draw(st.sampled_from([0.1, 0.5, 2.0]))
    shift = draw(st.sampled_from([0.5, 0.9, 1.0, 1.3, 3.0]))

    def points(factor: float) -> list[dict[str, float]]:
        return [
            {"dose": d, "response": 50 + slope * math.log(d * factor) + rng.gauss(0, noise)}
            for d in doses
            for _ in range(reps)
        ]

    return {"reference": points(1.0), "sample": points(shift)}


def _analysis(raw: dict[str, Any]) -> AssayReport:
    settings = Settings()
    data = read_assay(raw, transform="none", design="completely_randomised")
    return parallel_line.analyse(data, settings, result_id="P")


def _scaled(points: list[dict[str, float]], k: float) -> list[dict[str, float]]:
    return [{**p, "dose": p["dose"] * k} for p in points]


def _close(a: float | None, b: float | None, tolerance: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-12)


@FAST
@given(raw=assays(), k=st.sampled_from([1e-6, 1e-3, 0.37, 2.0, 1000.0, 1e6]))
def test_potency_does_not_depend_on_the_unit_of_dose(raw: dict[str, Any], k: float) -> None:
    first = _analysis(raw)
    other = _analysis({name: _scaled(points, k) for name, points in raw.items()})
    (a,), (b,) = first.estimates, other.estimates
    assert _close(a.potency_percent, b.potency_percent)
    assert _close(a.lower_percent, b.lower_percent) and _close(a.upper_percent, b.upper_percent)
    assert [t.passed for t in first.tests] == [t.passed for t in other.tests]


@FAST
@given(raw=assays(), data=st.data())
def test_potency_does_not_depend_on_the_order_of_the_points(
    raw: dict[str, Any], data: st.DataObject
) -> None:
    shuffled = {name: data.draw(st.permutations(points)) for name, points in raw.items()}
    (a,), (b,) = _analysis(raw).estimates, _analysis(shuffled).estimates
    assert _close(a.potency_percent, b.potency_percent)
    assert _close(a.lower_percent, b.lower_percent) and _close(a.upper_percent, b.upper_percent)
    spec = line("P", "POT", "relative_potency", {"min": 80, "max": 125}, unit="%", decimals=1)
    verdicts = {
        evaluate_line(spec, [result("P-1", "POT", unit="%", raw_data=r)]).verdict
        for r in (raw, shuffled)
    }
    assert len(verdicts) == 1


@FAST
@given(raw=assays(), k=st.sampled_from([0.1, 0.5, 2.0, 4.0, 25.0]))
def test_scaling_the_samples_doses_by_k_divides_its_potency_by_k(
    raw: dict[str, Any], k: float
) -> None:
    (a,) = _analysis(raw).estimates
    (b,) = _analysis({**raw, "sample": _scaled(raw["sample"], k)}).estimates
    assert _close(b.potency_percent * k, a.potency_percent)
    assert _close(b.lower_percent * k if b.lower_percent else None, a.lower_percent)  # type: ignore[operator]
    assert _close(b.upper_percent * k if b.upper_percent else None, a.upper_percent)  # type: ignore[operator]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32), k=st.sampled_from([1e-3, 7.0, 1e4]))
def test_4pl_potency_does_not_depend_on_the_unit_of_dose(seed: int, k: float) -> None:
    rng = random.Random(seed)

    def sigmoid(ec50: float) -> list[dict[str, float]]:
        return [
            {
                "dose": 0.5 * 2**j,
                "response": 0.1
                + 1.9 / (1 + math.exp(-1.2 * (math.log(0.5 * 2**j / ec50))))
                + rng.gauss(0, 0.02),
            }
            for j in range(8)
            for _ in range(2)
        ]

    raw = {"reference": sigmoid(8.0), "sample": sigmoid(5.0)}
    chosen = Settings(min_doses=4)

    def fit(r: dict[str, Any]) -> AssayReport:
        data = read_assay(r, transform="none", design="completely_randomised")
        return logistic.analyse(data, chosen, result_id="P")

    (a,) = fit(raw).estimates
    (b,) = fit({name: _scaled(points, k) for name, points in raw.items()}).estimates
    assert _close(a.potency_percent, b.potency_percent, 1e-6)
