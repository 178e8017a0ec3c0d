from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.accounts.services import api_client_create
from services.audit.services import Actor
from services.errors import DomainError


class Command(BaseCommand):
    help = "Create a machine client (MES, LIMS, instrument) and print its API key as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument("--reason", default="", help="recorded in the audit trail")

    def handle(self, *args: Any, name: str, description: str, reason: str, **options: Any) -> None:
        try:
            client, key = api_client_create(
                name=name, description=description, reason=reason, actor=Actor.system("manage.py")
            )
        except DomainError as exc:
            raise CommandError(exc.headline) from exc
        self.stdout.write(f"Created machine client {client.name!r}. Send the header")
        self.stdout.write("  Authorization: Api-Key <key>")
        self.stdout.write("The key is shown once and stored only as a hash:")
        self.stdout.write(key)
