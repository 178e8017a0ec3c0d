"""Editing a draft's lines (add, change, remove), each with a reason and an audit event,
refused on an approved version by code; the comparison of two versions, criteria in
words; the reference materials near their expiry."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, transaction

from qc.models import ReferenceMaterial, Specification, SpecificationLine
from qc.selectors import (
    LineDifference,
    reference_materials_expiring,
    specification_compare,
    specification_line_words,
    specification_list,
)
from qc.services.specifications import (
    specification_line_add,
    specification_line_change,
    specification_line_remove,
    specification_new_draft,
)
from services.audit.models import AuditEvent
from services.audit.selectors import ChainBreak, RecordsChecked, records_verify
from services.errors import DomainError
from tests.qc.test_chain_records import behind_the_trigger

ENDOTOXIN = {"criterion_type": "numeric_range", "params": {"max": "0.10"}, "decimals": 2}


@pytest.fixture
def draft(world: Any, qa: Any) -> Specification:
    return specification_new_draft(specification_id=world.spec.pk, by=qa, reason="annual review")


def _line(spec: Specification, test_code: str) -> SpecificationLine:
    return spec.lines.get(test__code=test_code)


def _refused(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def _head() -> int:
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)[0]


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


@pytest.mark.requirement("21CFR11.10e")
def test_a_draft_line_changes_with_its_reason_and_old_and_new_values_in_the_audit_trail(
    draft: Specification, qa: Any
) -> None:
    line = _line(draft, "LAL")
    specification_line_change(
        specification_id=draft.pk,
        line_id=line.pk,
        by=qa,
        reason="tighter limit after the annual review",
        name="Bacterial endotoxins",
        **ENDOTOXIN,
    )
    line.refresh_from_db()
    assert line.params == {"max": "0.10"} and line.name == "Bacterial endotoxins"
    [event] = _events("specification.line_changed")
    assert event.reason == "tighter limit after the annual review"
    assert event.old_values["params"] == {"max": "0.5"}
    assert event.new_values["params"] == {"max": "0.10"}
    assert event.object_id == str(draft.pk)


@pytest.mark.requirement("21CFR11.10e")
def test_a_draft_line_is_removed_with_a_reason_and_the_audit_trail_keeps_what_it_said(
    draft: Specification, qa: Any
) -> None:
    line = _line(draft, "STERILITY")
    specification_line_remove(
        specification_id=draft.pk, line_id=line.pk, by=qa, reason="moved to the release panel"
    )
    assert not draft.lines.filter(test__code="STERILITY").exists()
    [event] = _events("specification.line_removed")
    assert event.old_values["test"] == "STERILITY" and event.reason == "moved to the release panel"


def test_an_added_line_carries_its_reason_into_the_audit_trail(
    draft: Specification, qa: Any
) -> None:
    specification_line_add(
        specification_id=draft.pk,
        by=qa,
        test_code="MYCO",
        criterion_type="qualitative",
        params={"allowed": ["not detected"]},
        reason="Mycoplasma added (Ph. Eur. 2.6.7)",
    )
    [event] = _events("specification.line_added")
    assert event.reason == "Mycoplasma added (Ph. Eur. 2.6.7)"


@pytest.mark.requirement("21CFR11.10f")
def test_lines_of_an_approved_version_are_refused_by_code_and_by_the_database(
    world: Any, qa: Any
) -> None:
    line = _line(world.spec, "LAL")
    kwargs = {"specification_id": world.spec.pk, "line_id": line.pk, "by": qa, "reason": "why"}
    assert _refused(lambda: specification_line_change(**kwargs, **ENDOTOXIN)) == (
        "specification_not_draft"
    )
    assert _refused(lambda: specification_line_remove(**kwargs)) == "specification_not_draft"
    with pytest.raises(DatabaseError), transaction.atomic():
        SpecificationLine.objects.filter(pk=line.pk).delete()
    assert not _events("specification.line_changed") and not _events("specification.line_removed")


def test_edits_need_a_reason_a_qa_officer_known_lines_and_parameters_the_engine_accepts(
    draft: Specification, qa: Any, reviewer: Any
) -> None:
    line = _line(draft, "LAL")
    base = {"specification_id": draft.pk, "line_id": line.pk}
    assert _refused(lambda: specification_line_remove(**base, by=qa, reason=" ")) == (
        "reason_required"
    )
    assert _refused(lambda: specification_line_remove(**base, by=reviewer, reason="x")) == (
        "role_required"
    )
    missing = {"specification_id": draft.pk, "line_id": 999_999, "by": qa, "reason": "x"}
    assert _refused(lambda: specification_line_remove(**missing)) == (
        "specification_line_not_found"
    )
    bad = {"criterion_type": "numeric_range", "params": {"max": "lots"}}
    assert _refused(lambda: specification_line_change(**base, by=qa, reason="x", **bad)) == (
        "criterion_params_invalid"
    )
    assert _line(draft, "LAL").params == {"max": "0.5"}  # nothing half-written


def test_the_comparison_names_added_removed_and_changed_lines_with_criteria_in_words(
    world: Any, draft: Specification, qa: Any
) -> None:
    by = {"specification_id": draft.pk, "by": qa, "reason": "review"}
    specification_line_change(**by, line_id=_line(draft, "LAL").pk, name="Endotoxin", **ENDOTOXIN)
    specification_line_remove(**by, line_id=_line(draft, "STERILITY").pk)
    same_limits = {"min": 80_000_000_000, "max": "1.20E+11"}  # v1: "8E+10" to "1.2E+11"
    specification_line_change(
        **by,
        line_id=_line(draft, "NTA-CONC").pk,
        name="Particle concentration",
        criterion_type="numeric_range",
        params=same_limits,
    )
    specification_line_add(
        **by, test_code="MYCO", criterion_type="qualitative", params={"allowed": ["not detected"]}
    )
    old, new = (specification_list().get(pk=pk) for pk in (world.spec.pk, draft.pk))
    comparison = specification_compare(old=old, new=new)
    by_test = {line.test_code: line for line in comparison.lines}
    assert by_test["NTA-CONC"].difference == LineDifference.SAME  # the same limits, spelt anew
    assert by_test["LAL"].difference == LineDifference.CHANGED
    assert by_test["LAL"].changed == {"criterion"}
    assert (by_test["LAL"].old_words, by_test["LAL"].new_words) == (
        "≤ 0.5 EU/mL",  # as written in v1
        "≤ 0.10 EU/mL",
    )
    assert by_test["STERILITY"].difference == LineDifference.REMOVED
    assert by_test["MYCO"].difference == LineDifference.ADDED
    assert by_test["MYCO"].new_words == '"not detected"'
    assert (comparison.added, comparison.removed, comparison.changed) == (1, 1, 1)


def test_a_line_is_phrased_once_with_its_alert_limit(world: Any) -> None:
    line = SpecificationLine(
        test=world.endotoxin,
        criterion_type="numeric_range",
        params={"max": "0.10"},
        alert_params={"max": "0.06"},
        decimals=2,
    )
    assert specification_line_words(line) == "≤ 0.10 EU/mL (alert: ≤ 0.06 EU/mL)"


def test_materials_in_use_near_or_past_their_expiry_are_listed_soonest_first(
    world: Any,
) -> None:
    today = date(2026, 12, 2)
    for lot, days, status in [
        ("SOON", 12, "released"),
        ("PAST", -3, "released"),
        ("LATER", 40, "released"),
        ("RETIRED", 5, "retired"),
    ]:
        ReferenceMaterial.objects.create(
            code="CAL",
            lot=lot,
            name="calibrant",
            kind="size standard",
            status=status,
            expires_on=today + timedelta(days=days),
        )
    expiring = reference_materials_expiring(within_days=30, today=today)
    shown = [(e.material.lot, e.days_left, e.expired) for e in expiring if e.material.code == "CAL"]
    assert shown == [("PAST", -3, True), ("SOON", 12, False)]


@pytest.mark.requirement("21CFR11.10a")
def test_a_changed_or_removed_draft_line_still_verifies_under_the_chain(
    draft: Specification, qa: Any
) -> None:
    """A draft's lines are revisable: each edit re-binds the line, a removal records
    that the row is gone, and the chain still verifies; a line removed behind the
    chain's back does not."""
    changed, removed = _line(draft, "LAL"), _line(draft, "STERILITY")
    specification_line_change(
        specification_id=draft.pk, line_id=changed.pk, by=qa, reason="tighter limit", **ENDOTOXIN
    )
    specification_line_remove(
        specification_id=draft.pk, line_id=removed.pk, by=qa, reason="moved to another panel"
    )
    assert isinstance(records_verify(up_to_sequence=_head()), RecordsChecked)

    gone = _line(draft, "LAL")
    behind_the_trigger(
        "DELETE FROM qc_specificationline WHERE id = %s", [gone.pk], table="qc_specificationline"
    )
    broken = records_verify(up_to_sequence=_head())
    assert isinstance(broken, ChainBreak)
    assert (broken.table, broken.record_id) == ("qc_specificationline", gone.pk)
