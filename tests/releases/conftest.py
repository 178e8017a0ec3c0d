"""Fixtures of the release tests: the EV world; certificates stored in a temporary MEDIA_ROOT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def world(transactional_db: None) -> Any:
    from tests.releases.factories import release_world

    return release_world()


@pytest.fixture
def media_root(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Certificates go to a temporary folder, here and in any worker started afterwards."""
    root = tmp_path / "media"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def released_demo(demo_world: None, password: str) -> None:  # noqa: F811 - the shared one
    """The demo lots and the demo's released lot EVX-24-000 (``releases.demo``): reviewed,
    approved, certified by the QP, with its certificate.  Only the tests that need a
    release pay for it (a few seconds: four signatures and a PDF)."""
    import io

    from releases import demo

    out = io.StringIO()
    demo.seed_demo(stdout=out, password=password)
    assert "EVX-24-000 released" in out.getvalue(), out.getvalue()


from tests.qc.pipeline.conftest import (  # noqa: E402, F401 - shared fixtures
    demo_with_history,
    demo_world,
    evaluated_demo,
)
