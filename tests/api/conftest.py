from tests.qc.pipeline.conftest import demo_world  # noqa: F401 - shared fixture
