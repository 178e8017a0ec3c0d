from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.audit.actor import Actor
from services.audit.services import audit_records_bind


class Command(BaseCommand):
    help = (
        "Bind every GMP row that no audit event binds yet (rows written before records "
        "were chained) with one audited event (audit.records_bound)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reason", required=True, help="why the rows are bound now")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("--reason must say why the rows are bound now")
        event = audit_records_bind(actor=Actor.system("audit_backfill_records"), reason=reason)
        if event is None:
            self.stdout.write(self.style.SUCCESS("every GMP row is already bound"))
            return
        count = len(event.records or [])
        self.stdout.write(
            self.style.SUCCESS(f"{count} GMP rows bound by audit event #{event.sequence}")
        )
