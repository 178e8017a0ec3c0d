"""ResultInvalidation moved from qc to releases: same table, rows and append-only triggers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from qc.models import Result
from qc.selectors import result_list
from qc.services.evaluation_inputs import inputs_for_lots
from releases.models import Investigation, ResultInvalidation
from releases.services.investigations import investigation_add_entry
from releases.services.oos import investigation_conclude_phase_one, investigation_invalidate_result
from services.accounts.context import AuthContext

pytestmark = [pytest.mark.django_db(transaction=True)]


def _invalidated(world: Any, reviewer: Any, qa: Any, password: str) -> ResultInvalidation:
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    investigation = Investigation.objects.get(lot=lot, kind="oos")
    investigation_add_entry(
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        entry_type="check",
        text="pipette checked",
    )
    investigation_conclude_phase_one(
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=True,
        reason="pipette",
    )
    return investigation_invalidate_result(
        number=investigation.number, auth=AuthContext.of(qa), password=password, reason="confirmed"
    )


def test_the_record_keeps_its_table_and_triggers() -> None:
    assert ResultInvalidation._meta.app_label == "releases"
    assert ResultInvalidation._meta.db_table == "qc_resultinvalidation"
    pgids = {t.get_pgid(ResultInvalidation) for t in ResultInvalidation._meta.triggers}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger "
            "WHERE tgrelid = 'qc_resultinvalidation'::regclass AND NOT tgisinternal"
        )
        installed = {name for (name,) in cursor.fetchall()}
    assert installed == pgids and len(pgids) == 2


@pytest.mark.requirement("21CFR11.10e")
def test_an_invalidation_is_append_only_and_qc_reads_it_through_the_result(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    invalidation = _invalidated(world, reviewer, qa, password)
    result = result_list().get(pk=invalidation.result_id)
    assert result.invalidation == invalidation  # the reverse accessor qc uses
    lot = result.lot
    (read,) = [r for r in inputs_for_lots(lots=[lot])[lot.pk].results if r.invalidated]
    assert read.result_id == str(result.pk) and read.invalidation_reason == "pipette"
    for statement in (
        "UPDATE qc_resultinvalidation SET reason = 'rewritten'",
        "DELETE FROM qc_resultinvalidation",
        "TRUNCATE qc_resultinvalidation",
    ):
        with (
            pytest.raises(DatabaseError, match="pgtrigger"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert ResultInvalidation.objects.get().reason == "pipette"
    assert Result.objects.filter(pk=result.pk).exists()
