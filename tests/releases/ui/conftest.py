from django.test import Client

from tests.qc.pipeline.conftest import demo_world, evaluated_demo  # noqa: F401 - shared fixtures


def client_for(username: str) -> Client:
    """A browser session of a demo account."""
    from services.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client
