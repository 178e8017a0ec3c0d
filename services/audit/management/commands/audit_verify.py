from typing import Any

from django.core.management.base import BaseCommand, CommandError

from services.audit.selectors import ChainBreak, audit_chain_verify


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; exit non-zero at the first event that fails."

    def handle(self, *args: Any, **options: Any) -> None:
        checked = 0
        for outcome in audit_chain_verify():
            if isinstance(outcome, ChainBreak):
                raise CommandError(
                    f"audit trail broken at event #{outcome.sequence}: {outcome.problem}"
                )
            checked = outcome
        self.stdout.write(self.style.SUCCESS(f"audit trail intact: {checked} events verified"))
