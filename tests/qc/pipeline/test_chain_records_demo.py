"""Every record the demo writes is under the chain (21 CFR 11.10(e)): each service binds
its rows to its audit event after its last write to them, so a clean system verifies."""

from __future__ import annotations

import pytest

from services.audit.records import unbound_hashes
from services.audit.selectors import RecordsChecked, audit_chain_verify


@pytest.mark.requirement("21CFR11.10e")
def test_every_record_the_demo_writes_is_bound_and_verifies(evaluated_demo: None) -> None:
    assert unbound_hashes() == []
    outcome = list(audit_chain_verify())[-1]
    assert isinstance(outcome, RecordsChecked) and outcome.count > 0
