"""Typed hooks: how QC announces what happened without knowing who listens.

``qc`` never imports ``releases`` (the layers point one way: releases -> qc ->
services).  Where QC's work sets something in motion on the release side (the
first result moves a lot into testing; a stored evaluation opens OOS
investigations and moves the lifecycle), QC emits a typed event on a hook, and
``releases`` subscribes to it in ``ReleasesConfig.ready()``.

Subscribers run synchronously, in the emitter's transaction and in the order they
subscribed: what they write commits or rolls back with the change that caused it,
and an exception in a subscriber fails the emitting service.  Subscribing is
idempotent (a function is known by its module and qualified name), so ``ready()``
may run more than once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # the events name them; importing the hooks needs no models
    from qc.evaluation import LotEvaluation
    from qc.models import ControlBaseline, Evaluation, Lot
    from services.audit.actor import Actor

EventT = TypeVar("EventT")


class Hook(Generic[EventT]):
    """A named announcement with typed events; ``subscribe`` then ``emit``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: dict[str, Callable[[EventT], object]] = {}

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {', '.join(self._subscribers) or 'no subscribers'}>"

    @staticmethod
    def _key(fn: Callable[[EventT], object]) -> str:
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"

    def subscribe(self, fn: Callable[[EventT], object]) -> Callable[[EventT], object]:
        """Call ``fn(event)`` on every emit; subscribing the same function again is a no-op."""
        self._subscribers.setdefault(self._key(fn), fn)
        return fn

    def unsubscribe(self, fn: Callable[[EventT], object]) -> None:
        self._subscribers.pop(self._key(fn), None)

    @property
    def subscribers(self) -> tuple[Callable[[EventT], object], ...]:
        return tuple(self._subscribers.values())

    def emit(self, event: EventT) -> None:
        """Hand ``event`` to every subscriber, in order; their exceptions propagate."""
        for fn in tuple(self._subscribers.values()):
            fn(event)


@dataclass(frozen=True, slots=True)
class ResultsRecorded:
    """Results of ``lot`` were stored (inside the ingestion transaction).

    ``lot.status`` is the status after the results' data version bump; a subscriber
    that moves the lot updates ``lot.status`` in place (the answer reports it).
    """

    lot: Lot
    actor: Actor
    result_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EvaluationRecorded:
    """A new evaluation of ``lot`` was stored (inside the evaluation transaction)."""

    lot: Lot
    evaluation: Evaluation
    outcome: LotEvaluation


@dataclass(frozen=True, slots=True)
class ControlBaselineSigned:
    """QA signed new control limits (inside the signing transaction): lots already on
    the chart after the baseline are judged against them now."""

    baseline: ControlBaseline


results_recorded: Hook[ResultsRecorded] = Hook("results_recorded")
evaluation_recorded: Hook[EvaluationRecorded] = Hook("evaluation_recorded")
control_baseline_signed: Hook[ControlBaselineSigned] = Hook("control_baseline_signed")


# --- who may take QC's person-facing actions: asked, never decided, here ------------

# The keys of the release policy's actions that QC's own services carry out
# (``releases.policy.ActionKey`` has the same values).
SPECIFICATION_AUTHOR = "specification-author"
SPECIFICATION_APPROVE = "specification-approve"
SPECIFICATION_REBIND = "specification-rebind"
CONTROL_BASELINE = "control-baseline"


class PersonPolicy:
    """Who may take an action, answered by the release policy (21 CFR 11.10(d),(g)).

    ``releases`` installs its policy table here in ``ReleasesConfig.ready()``; QC's
    services and API permissions ask it, so the roles are written in one place
    (``releases/policy.py``) although QC may not import it.
    """

    def __init__(self) -> None:
        self._require: Callable[[str, object], object] | None = None
        self._roles: Callable[[str], tuple[str, ...]] | None = None
        self._signing: Callable[..., tuple[str, str]] | None = None

    def install(
        self,
        *,
        require: Callable[[str, object], object],
        roles: Callable[[str], tuple[str, ...]],
        signing: Callable[..., tuple[str, str]] | None = None,
    ) -> None:
        self._require, self._roles, self._signing = require, roles, signing

    def signing(self, key: str, **words: str) -> tuple[str, str]:
        """(meaning, statement) of the signature ``key`` asks for, the statement filled
        with ``words`` (21 CFR 11.50: the signer confirms these words, stored with it)."""
        if self._signing is None:
            raise RuntimeError("no release policy installed (is 'releases' an installed app?)")
        return self._signing(key, **words)

    def require_person(self, key: str, principal: object) -> object:
        """The acting person, if they may take ``key``; else the policy's NotAllowed."""
        if self._require is None:
            raise RuntimeError("no release policy installed (is 'releases' an installed app?)")
        return self._require(key, principal)

    def roles(self, key: str) -> tuple[str, ...]:
        if self._roles is None:
            raise RuntimeError("no release policy installed (is 'releases' an installed app?)")
        return self._roles(key)


person_policy = PersonPolicy()
