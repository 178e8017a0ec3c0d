import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qc.models import Specification
from qc.services.impact import specification_impact
from services.errors import DomainError


class Command(BaseCommand):
    help = (
        "Evaluate every lot of PRODUCT against specification version N (e.g. a draft) "
        "without storing anything, and list the lots whose verdict would change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("product", help="product code, e.g. EVX-MSC-01")
        # Not --version: every Django command has that one (it prints Django's version).
        parser.add_argument(
            "--spec-version",
            type=int,
            required=True,
            metavar="N",
            help="the specification version to try, e.g. a draft",
        )
        parser.add_argument("--all", action="store_true", help="list unchanged lots too")
        parser.add_argument(
            "--processes",
            type=int,
            default=os.cpu_count() or 1,
            help="evaluate in this many processes (default: one per core)",
        )

    def handle(
        self,
        *args: Any,
        product: str,
        spec_version: int,
        all: bool,
        processes: int,
        **options: Any,
    ) -> None:
        specification = Specification.objects.filter(
            product__code=product, version=spec_version
        ).first()
        if specification is None:
            raise CommandError(f"{product} has no specification version {spec_version}")
        started = time.perf_counter()
        total = changed = 0
        try:
            impacts = specification_impact(specification=specification, processes=processes)
        except DomainError as exc:
            raise CommandError(exc.headline) from exc
        for impact in impacts:
            total += 1
            if impact.changes:
                changed += 1
            if impact.changes or all:
                marker = "CHANGES" if impact.changes else "same"
                self.stdout.write(
                    f"{impact.lot_number:<24} {impact.current_verdict or '-':<18} "
                    f"-> {impact.new_verdict:<18} {marker}"
                )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{changed} of {total} lots would change verdict under "
            f"{product} v{spec_version} ({specification.status}); "
            f"evaluated in {elapsed:.2f} s"
        )
