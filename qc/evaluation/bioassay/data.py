"""The dose-response data of one assay, read from a result's ``raw_data``.

Shapes (the first is what integrators post today and keeps its meaning)::

    {"reference": [{"dose": 1, "response": 10.3}, ...],
     "sample":    [{"dose": 1, "response": 12.1}, ...]}

    {"reference": [...],
     "samples": {"T": [...], "U": [...], "V": [...]},
     "lot_samples": ["T"]}

Several test preparations against one standard share its residual error and common
slope (Ph. Eur. 5.3 §3.2, multiple assays). ``lot_samples`` names those that belong
to the lot whose result this is (default: all); the others only contribute to the
pooled error. A point may carry ``block`` (randomised blocks), ``row`` and
``column`` (Latin square); other keys of ``raw_data`` are kept but not read.

x is the natural logarithm of the dose (the potency ratio does not depend on the
base); y is the response after the method's stated transformation (Ph. Eur. 5.3
§3.1: the response, or a transformation of it, is linear in log dose).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn

REFERENCE: Final = "reference"
LEGACY_SAMPLE: Final = "sample"


class CurveError(ValueError):
    """Dose-response data that cannot give a valid potency estimate."""


def _identity(y: float) -> float:
    return y


def _log(y: float) -> float:
    if y <= 0:
        raise CurveError(f"response {y:g} is not positive; its logarithm is undefined")
    return math.log(y)


def _sqrt(y: float) -> float:
    if y < 0:
        raise CurveError(f"response {y:g} is negative; its square root is undefined")
    return math.sqrt(y)


def _reciprocal(y: float) -> float:
    if y == 0:
        raise CurveError("response 0 has no reciprocal")
    return 1.0 / y


#: response transformations a method may state (Ph. Eur. 5.3 §3.1.3)
TRANSFORMS: Final[Mapping[str, tuple[str, Callable[[float], float]]]] = {
    "none": ("y", _identity),
    "log": ("ln(y)", _log),
    "sqrt": ("√y", _sqrt),
    "reciprocal": ("1/y", _reciprocal),
}

#: the point labels each design needs
DESIGN_LABELS: Final[Mapping[str, tuple[str, ...]]] = {
    "completely_randomised": (),
    "randomised_block": ("block",),
    "latin_square": ("row", "column"),
}


@dataclass(slots=True)
class Preparation:
    """One preparation's points: doses, x = ln dose, responses as posted, y transformed.

    Internal to one analysis (not frozen: a frozen dataclass costs a microsecond to
    build, and thousands of lots are evaluated at a time); never mutated.
    """

    name: str
    doses: tuple[float, ...]
    xs: tuple[float, ...]
    responses: tuple[float, ...]
    ys: tuple[float, ...]
    labels: tuple[tuple[str, ...], ...]

    @property
    def distinct_doses(self) -> int:
        return len(set(self.xs))


@dataclass(slots=True)
class AssayData:
    """The reference first, then the test preparations; ``judged`` are the lot's."""

    preparations: tuple[Preparation, ...]
    judged: tuple[str, ...]

    @property
    def reference(self) -> Preparation:
        return self.preparations[0]

    @property
    def tests(self) -> tuple[Preparation, ...]:
        return self.preparations[1:]


def has_curves(raw: Mapping[str, Any] | None) -> bool:
    return raw is not None and (REFERENCE in raw or LEGACY_SAMPLE in raw or "samples" in raw)


def _number(raw: object, what: str) -> float:
    """A finite float from JSON (int, float, numeric text, Decimal); never a boolean."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CurveError(f"{what} must be a number, not {raw!r}") from None
    if raw is True or raw is False or not math.isfinite(value):
        raise CurveError(f"{what} must be a finite number, not {raw!r}")
    return value


def _points(raw: object, name: str) -> Sequence[Any]:
    if type(raw) is list or (isinstance(raw, Sequence) and not isinstance(raw, str)):
        return raw  # type: ignore[return-value]
    raise CurveError(f"the {name} curve must be a list of {{dose, response}} points")


def _preparation(
    name: str, raw: object, transform: Callable[[float], float], labels: tuple[str, ...]
) -> Preparation:
    doses, responses, point_labels = _checked(name, raw, labels)
    try:
        ys = tuple(responses) if transform is _identity else tuple(map(transform, responses))
    except CurveError as exc:
        raise CurveError(f"{name}: {exc}") from None
    return Preparation(
        name, tuple(doses), tuple(map(math.log, doses)), tuple(responses), ys, tuple(point_labels)
    )


def _checked(
    name: str, raw: object, labels: tuple[str, ...]
) -> tuple[list[float], list[float], list[tuple[str, ...]]]:
    """Every point checked; the first point that is wrong is named by :func:`_refuse`."""
    doses: list[float] = []
    responses: list[float] = []
    point_labels: list[tuple[str, ...]] = []
    points = _points(raw, name)
    isfinite = math.isfinite
    for point in points:
        try:
            dose_raw, response_raw = point["dose"], point["response"]
            dose, response = float(dose_raw), float(response_raw)
        except (KeyError, TypeError, ValueError, IndexError):
            _refuse(name, point)
        if (
            not (dose > 0 and isfinite(dose) and isfinite(response))
            or dose_raw.__class__ is bool
            or response_raw.__class__ is bool
        ):
            _refuse(name, point)
        doses.append(dose)
        responses.append(response)
        if labels:
            missing = [label for label in labels if point.get(label) in (None, "")]
            if missing:
                raise CurveError(
                    f"every {name} point needs a {' and a '.join(missing)} in this design"
                )
            point_labels.append(tuple(str(point[label]) for label in labels))
    if not doses:
        raise CurveError(f"the {name} curve has no points")
    return doses, responses, point_labels


def _refuse(name: str, point: object) -> NoReturn:
    """Raise the :class:`CurveError` that says what is wrong with ``point``."""
    if not isinstance(point, Mapping) or "dose" not in point or "response" not in point:
        raise CurveError(f"every {name} point needs a dose and a response")
    dose = _number(point["dose"], f"{name} dose")
    if dose <= 0:
        raise CurveError(f"{name} dose {point['dose']} is not positive; log dose is undefined")
    _number(point["response"], f"{name} response")
    raise CurveError(f"the {name} point {point!r} cannot be read")  # pragma: no cover


def read_assay(raw: Mapping[str, Any], *, transform: str, design: str) -> AssayData:
    """The preparations of ``raw`` (see the module docstring), checked and transformed."""
    function = TRANSFORMS[transform][1]
    labels = DESIGN_LABELS[design]
    if REFERENCE not in raw:
        raise CurveError("the reference curve is missing")
    named: list[tuple[str, object]] = []
    if LEGACY_SAMPLE in raw and "samples" in raw:
        raise CurveError("give either 'sample' or 'samples', not both")
    if "samples" in raw:
        samples = raw["samples"]
        if not isinstance(samples, Mapping) or not samples:
            raise CurveError("'samples' must map each test preparation's name to its points")
        for name in sorted(samples, key=str):
            if not isinstance(name, str) or not name.strip() or name == REFERENCE:
                raise CurveError(f"{name!r} cannot name a test preparation")
            named.append((name, samples[name]))
    elif LEGACY_SAMPLE in raw:
        named.append((LEGACY_SAMPLE, raw[LEGACY_SAMPLE]))
    else:
        raise CurveError("the sample curve is missing")
    preparations = [_preparation(REFERENCE, raw[REFERENCE], function, labels)]
    preparations += [_preparation(name, points, function, labels) for name, points in named]
    names = tuple(name for name, _ in named)
    wanted = raw.get("lot_samples")
    if wanted is None:
        judged = names
    else:
        if (
            isinstance(wanted, str)
            or not isinstance(wanted, Sequence)
            or not wanted
            or any(name not in names for name in wanted)
        ):
            raise CurveError(f"'lot_samples' must list some of {', '.join(names)}")
        judged = tuple(name for name in names if name in set(wanted))
    return AssayData(tuple(preparations), judged)
