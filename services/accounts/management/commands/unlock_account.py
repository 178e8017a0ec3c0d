from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from services.accounts.services import user_unlock
from services.audit.services import Actor


class Command(BaseCommand):
    help = "Unlock an account locked after repeated failed logins or signatures (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True)

    def handle(self, *args: Any, username: str, reason: str, **options: Any) -> None:
        user_unlock(username=username, reason=reason, actor=Actor.system("manage.py"))
        self.stdout.write(f"Unlocked {username}.")
