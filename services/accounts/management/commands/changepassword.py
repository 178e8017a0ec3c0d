"""Django's ``changepassword`` is replaced: nobody chooses another person's password.

An operator sends the owner a one-time set-password link instead
(``manage.py send_password_link USER --reason ...``), which is audited.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Refused: use send_password_link (the owner sets their own password; audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument("--database")

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError(
            "an operator does not choose a person's password (21 CFR 11.300): run "
            "'manage.py send_password_link USERNAME --reason ...' and the owner sets it"
        )
