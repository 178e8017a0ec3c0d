from tests.qc.pipeline.conftest import demo_world, evaluated_demo  # noqa: F401 - shared fixtures
