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


from tests.qc.pipeline.conftest import (  # noqa: E402, F401 - shared fixtures
    demo_with_history,
    demo_world,
    evaluated_demo,
)
