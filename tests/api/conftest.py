from tests.qc.pipeline.conftest import (  # noqa: F401 - shared fixtures
    demo_with_history,
    demo_world,
    evaluated_demo,
)
