"""Demo accounts: one per role (``manage.py seed_demo``)."""

from __future__ import annotations

from dataclasses import dataclass

from services.accounts.models import Role, User
from services.accounts.services import user_upsert
from services.audit.services import Actor

DEFAULT_DEMO_PASSWORD = "evrelease-demo"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    first_name: str
    last_name: str


DEMO_ACCOUNTS = (
    DemoAccount("analyst", Role.QC_ANALYST, "Ana", "Lyst"),
    DemoAccount("reviewer", Role.QC_REVIEWER, "Rene", "Viewer"),
    DemoAccount("qa", Role.QA_OFFICER, "Quinn", "Assure"),
    DemoAccount("qp", Role.QUALIFIED_PERSON, "Quentin", "Person"),
    DemoAccount("auditor", Role.AUDITOR, "Audrey", "Tor"),
    DemoAccount("admin", Role.ADMINISTRATOR, "Ada", "Admin"),
)


def demo_accounts_seed(*, password: str | None) -> list[tuple[User, bool]]:
    """Create the demo accounts; reset their password only when one is given."""
    actor = Actor.system("seed_demo")
    seeded = []
    for account in DEMO_ACCOUNTS:
        existing = User.objects.filter(username=account.username).first()
        if existing is not None and password is None:
            seeded.append((existing, False))
            continue
        seeded.append(
            user_upsert(
                username=account.username,
                role=account.role,
                password=password or DEFAULT_DEMO_PASSWORD,
                first_name=account.first_name,
                last_name=account.last_name,
                email=f"{account.username}@evrelease.invalid",
                actor=actor,
                reason="demo account (manage.py seed_demo)",
            )
        )
    return seeded
