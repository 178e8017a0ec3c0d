"""Fixtures of the QC API tests: the EV product world and a poster with idempotency keys."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

_keys = itertools.count(1)


@pytest.fixture
def world(db: None) -> Any:
    from tests.qc.factories import qc_world

    return qc_world()


@pytest.fixture
def lot(world: Any) -> Any:
    return world.lot("LOT-001")


def post_json(client: Any, url: str, body: Any, key: str | None = "auto", **extra: Any) -> Any:
    """POST ``body`` as JSON with an Idempotency-Key (a fresh one unless given; None: none)."""
    headers = dict(extra)
    if key == "auto":
        key = f"test-key-{next(_keys)}"
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **headers)


@pytest.fixture
def post() -> Callable[..., Any]:
    return post_json


@pytest.fixture
def no_enqueue(monkeypatch: Any) -> list[int]:
    """Committed tests must not publish evaluation tasks of their lots to a real broker:
    record the lots instead."""
    import qc.tasks

    enqueued: list[int] = []
    monkeypatch.setattr(qc.tasks, "enqueue_lot_evaluation", enqueued.append)
    return enqueued
