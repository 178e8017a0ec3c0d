from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.accounts.services import user_unlock
from services.audit.services import Actor
from services.errors import DomainError


class Command(BaseCommand):
    help = (
        "Unlock an account locked after repeated failed logins or signatures, for every "
        "client address or one (--address); audited with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--address", help="only this client address (default: every one)")

    def handle(
        self, *args: Any, username: str, reason: str, address: str | None, **options: Any
    ) -> None:
        try:
            cleared = user_unlock(
                username=username,
                reason=reason,
                client_address=address,
                actor=Actor.system("manage.py unlock_account"),
            )
        except DomainError as exc:
            raise CommandError(exc.headline) from exc
        where = f" for {address}" if address else ""
        self.stdout.write(f"Unlocked {username}{where} ({cleared} lockout record(s) cleared).")
