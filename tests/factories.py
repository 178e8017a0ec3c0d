from __future__ import annotations

import factory
from django.contrib.auth.hashers import make_password

from services.accounts.models import User

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    role = "qc_analyst"
    # Hashed once: the default PBKDF2 cost per user would slow the suite for nothing.
    password = factory.LazyFunction(lambda: _hashed_password())


_HASH_CACHE: dict[str, str] = {}


def _hashed_password() -> str:
    if PASSWORD not in _HASH_CACHE:
        _HASH_CACHE[PASSWORD] = make_password(PASSWORD)
    return _HASH_CACHE[PASSWORD]
