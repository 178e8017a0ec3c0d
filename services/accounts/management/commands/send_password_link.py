from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.accounts.services import user_password_reset
from services.audit.services import Actor
from services.errors import DomainError


class Command(BaseCommand):
    help = (
        "Remove an account's password and mail its owner a one-time set-password link "
        "(audited with the reason).  Nobody but the owner chooses a person's password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True)

    def handle(self, *args: Any, username: str, reason: str, **options: Any) -> None:
        try:
            user = user_password_reset(
                username=username, reason=reason, actor=Actor.system("manage.py")
            )
        except DomainError as exc:
            raise CommandError(exc.headline) from exc
        self.stdout.write(f"A set-password link for {username} is being mailed to {user.email}.")
