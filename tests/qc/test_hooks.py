"""QC announces what happened through typed hooks; releases subscribes in ready()."""

from __future__ import annotations

from typing import Any

from django.apps import apps

from qc import hooks
from releases.services import evaluation_hooks


def test_subscribing_twice_calls_once_and_emit_hands_the_event_in_order() -> None:
    hook: hooks.Hook[str] = hooks.Hook("test")
    seen: list[tuple[str, str]] = []

    def first(event: str) -> None:
        seen.append(("first", event))

    def second(event: str) -> None:
        seen.append(("second", event))

    hook.subscribe(first)
    hook.subscribe(second)
    hook.subscribe(first)
    hook.emit("e1")
    assert seen == [("first", "e1"), ("second", "e1")]
    hook.unsubscribe(first)
    hook.emit("e2")
    assert seen[-1] == ("second", "e2") and len(seen) == 3


def test_a_subscriber_error_reaches_the_emitter() -> None:
    hook: hooks.Hook[int] = hooks.Hook("test")

    def refuse(event: int) -> None:
        raise RuntimeError(f"refused {event}")

    hook.subscribe(refuse)
    try:
        hook.emit(7)
    except RuntimeError as exc:
        assert str(exc) == "refused 7"
    else:  # pragma: no cover
        raise AssertionError("the subscriber's error was swallowed")


def test_releases_subscribes_once_however_often_ready_runs() -> None:
    config: Any = apps.get_app_config("releases")
    config.ready()
    config.ready()
    assert hooks.results_recorded.subscribers == (evaluation_hooks.results_recorded,)
    assert hooks.evaluation_recorded.subscribers == (evaluation_hooks.evaluation_recorded,)
