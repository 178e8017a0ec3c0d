from typing import Any

from django.core.management.base import BaseCommand, CommandError

from services.audit.selectors import ChainBreak, RecordsChecked, audit_chain_verify


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain and the content hash of every GMP row it "
        "binds; exit non-zero at the first event or row that fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checked = records = 0
        for outcome in audit_chain_verify():
            if isinstance(outcome, ChainBreak):
                raise CommandError(
                    f"audit trail broken at event #{outcome.sequence}: {outcome.problem}"
                )
            if isinstance(outcome, RecordsChecked):
                records = outcome.count
            else:
                checked = outcome
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail intact: {checked} events and {records} bound records verified"
            )
        )
