from django.test import Client

from tests.qc.pipeline.conftest import (  # noqa: F401 - shared fixtures
    demo_with_history,
    demo_world,
    evaluated_demo,
)


def client_for(username: str) -> Client:
    """A browser session of a demo account."""
    from services.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client
