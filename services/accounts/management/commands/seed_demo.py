from importlib import import_module
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from services.accounts.demo import DEFAULT_DEMO_PASSWORD, demo_accounts_seed

# Each app that contributes demo data exposes ``seed_demo(stdout)`` in its demo module.
DEMO_DATA_MODULES = ("qc.demo", "releases.demo")


class Command(BaseCommand):
    help = "Create one account per role and the demo data. Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="set every demo account's password to this")

    def handle(self, *args: Any, password: str | None, **options: Any) -> None:
        with transaction.atomic():
            accounts = demo_accounts_seed(password=password)
        for module_name in DEMO_DATA_MODULES:
            try:
                module = import_module(module_name)
            except ModuleNotFoundError:
                continue
            module.seed_demo(stdout=self.stdout, password=password or DEFAULT_DEMO_PASSWORD)
        self.stdout.write("Demo accounts (username / role / password):")
        for user, created in accounts:
            if created or password:
                shown = password or DEFAULT_DEMO_PASSWORD
            else:
                shown = f"unchanged (initially {DEFAULT_DEMO_PASSWORD}; reset with --password)"
            self.stdout.write(f"  {user.username:<9} {user.get_role_display():<17} {shown}")
