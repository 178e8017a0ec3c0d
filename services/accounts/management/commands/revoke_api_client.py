from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.accounts.services import api_client_revoke
from services.audit.services import Actor
from services.errors import DomainError


class Command(BaseCommand):
    help = "Revoke a machine client's API key; its requests are refused with 401 from now on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--reason", required=True)

    def handle(self, *args: Any, name: str, reason: str, **options: Any) -> None:
        try:
            api_client_revoke(name=name, reason=reason, actor=Actor.system("manage.py"))
        except DomainError as exc:
            raise CommandError(exc.headline) from exc
        self.stdout.write(f"Revoked machine client {name!r}.")
