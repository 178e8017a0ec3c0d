"""Recording QC results: validated in bulk, stored all or nothing, audited.

Results are original records (ALCOA+): never updated or deleted (PostgreSQL
refuses it).  A correction or a retest is a new result that ``supersedes`` an
earlier one of the same lot and test, with a reason.

Speed matters (an instrument may post thousands of results at once), so one
request costs a fixed number of queries whatever its size: the tests, runs and
superseded results it names are fetched in one query each, unit conversion
factors are cached (``qc.units``), items are checked by plain Python rather than a
serializer per item, rows go in with one ``COPY`` (ids drawn from the sequence
first), and the audit trail gets one event per request that binds every row
it stored by its content hash (``services.audit.records``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from qc import hooks
from qc.models import AssayRun, Lot, Result, ResultKind, TestMethod
from qc.services.common import Principal, actor_of, posted_by
from qc.services.lots import (
    lot_data_changed,
    lot_evaluation_enqueue_on_commit,
)
from qc.services.values import (
    Bad,
    canonical,
    exact_fit,
    integer,
    moment,
    number,
    posted_text,
    short_text,
)
from services.audit.actions import AuditAction
from services.audit.records import record_hashes
from services.audit.services import Change, audit_record_many
from services.errors import InvalidInput, Problem, Refused, lot_not_found
from services.observability import current_request_id

ITEM_FIELDS = frozenset(
    {
        "test",
        "value",
        "unit",
        "run",
        "replicate",
        "qualifier",
        "performed_by",
        "performed_at",
        "raw_data",
        "supersedes",
        "supersede_reason",
    }
)
DETECTION_VALUES = {"detected": "detected", "not detected": "not detected"}

_COPY_COLUMNS = (
    "id",
    "lot_id",
    "test_id",
    "run_id",
    "replicate",
    "value_as_posted",
    "unit_as_posted",
    "qualifier",
    "numeric_value",
    "canonical_value",
    "canonical_unit",
    "text_value",
    "raw_data",
    "performed_by",
    "performed_at",
    "supersedes_id",
    "supersede_reason",
    "posted_by_client_id",
    "entered_by_user_id",
    "received_at",
    "request_id",
)


@dataclass(frozen=True, slots=True)
class RecordedResult:
    id: int
    index: int
    test: str
    canonical_value: Decimal | None
    canonical_unit: str
    qualifier: str
    text_value: str


@dataclass(frozen=True, slots=True)
class ResultsReceipt:
    """What a bulk post stored: the answer to the client."""

    lot_number: str
    lot_status: str
    data_version: int
    received_at: datetime
    results: list[RecordedResult]


@dataclass(slots=True)
class _Row:
    """A validated item, in the column order of ``_COPY_COLUMNS`` (minus ids and request)."""

    index: int
    test: TestMethod
    run: AssayRun | None
    replicate: int
    value_as_posted: str
    unit_as_posted: str
    qualifier: str
    numeric_value: Decimal | None
    canonical_value: Decimal | None
    text_value: str
    raw_data: str | None
    performed_by: str
    performed_at: datetime | None
    supersedes: int | None
    supersede_reason: str


# ---------------------------------------------------------------------------
# The validator of one request
# ---------------------------------------------------------------------------


class _Validator:
    """Checks the items of one request against data fetched once for all of them."""

    def __init__(self, lot: Lot, items: Sequence[Any], now: datetime) -> None:
        self.lot = lot
        self.now = now
        self.errors: list[Problem] = []
        codes: set[str] = set()
        runs: set[str] = set()
        supersedes: set[int] = set()
        for item in items:
            if not isinstance(item, Mapping):
                continue
            code = item.get("test")
            if isinstance(code, str):
                codes.add(code)
            run = item.get("run")
            if isinstance(run, str):
                runs.add(run)
            target = item.get("supersedes")
            if isinstance(target, int) and not isinstance(target, bool):
                supersedes.add(int(target))
        self.tests = {t.code: t for t in TestMethod.objects.filter(code__in=codes)}
        self.runs = {
            r.external_run_id: r
            for r in AssayRun.objects.filter(external_run_id__in=runs).select_related("method")
        }
        self.targets = {
            pk: (lot_id, test_id)
            for pk, lot_id, test_id in Result.objects.filter(pk__in=supersedes).values_list(
                "pk", "lot_id", "test_id"
            )
        }
        self.already_superseded = dict(
            Result.objects.filter(supersedes_id__in=supersedes).values_list("supersedes_id", "pk")
        )
        self.claimed: dict[int, int] = {}

    def error(self, index: int, field: str | None, reason: str, *, code: str) -> None:
        self.errors.append(Problem(code, reason, field, index))

    def validate(self, index: int, item: Any) -> _Row | None:
        if not isinstance(item, Mapping):
            self.error(index, None, "each result must be an object", code="not_an_object")
            return None
        unknown = item.keys() - ITEM_FIELDS
        if unknown:
            for name in sorted(unknown):
                self.error(index, name, "unknown field", code="unknown_field")
            return None
        before = len(self.errors)
        test = self._test(index, item.get("test"))
        row = None
        if test is not None:
            try:
                row = self._values(index, item, test)
            except Bad as bad:
                self.errors.append(bad.problem(index=index))
        for check in (self._run, self._supersedes, self._rest):
            try:
                check(index, item, test, row)
            except Bad as bad:
                self.errors.append(bad.problem(index=index))
        return row if len(self.errors) == before else None

    def _test(self, index: int, code: Any) -> TestMethod | None:
        if code is None:
            self.error(index, "test", "is required (a test method code)", code="required")
            return None
        test = self.tests.get(code) if isinstance(code, str) else None
        if test is None:
            self.error(index, "test", f"unknown test method {code!r}", code="unknown_test")
            return None
        if not test.active:
            self.error(index, "test", f"test method {code} is inactive", code="test_inactive")
            return None
        return test

    def _values(self, index: int, item: Mapping[str, Any], test: TestMethod) -> _Row:
        if "value" not in item or item["value"] is None:
            raise Bad("value", "is required", code="required")
        posted = posted_text(value=item["value"], field="value")
        if not posted.strip():
            raise Bad("value", "is empty", code="blank")
        if len(posted) > 200:
            raise Bad("value", "is longer than 200 characters", code="too_long")
        unit = item.get("unit")
        qualifier = item.get("qualifier")
        if qualifier not in (None, "", "<", ">"):
            raise Bad("qualifier", "must be '<', '>' or absent", code="qualifier_invalid")
        numeric = canonical_value = None
        text_value = ""
        if test.result_kind == ResultKind.NUMERIC:
            embedded, number_value = number(text=posted)
            if embedded and qualifier and embedded != qualifier:
                raise Bad(
                    "qualifier",
                    f"'{qualifier}' contradicts the value {posted!r}",
                    code="qualifier_contradicts_value",
                )
            qualifier = qualifier or embedded or ""
            if number_value < 0 and not test.allows_negative:
                raise Bad(
                    "value",
                    f"test {test.code} does not allow negative values",
                    code="negative_not_allowed",
                )
            if not isinstance(unit, str) or not unit.strip():
                raise Bad(
                    "unit",
                    f"is required for numeric test {test.code} ({test.canonical_unit})",
                    code="required",
                )
            canonical_value = canonical(
                value=number_value, unit=unit, canonical_unit=test.canonical_unit
            )
            numeric = exact_fit(value=number_value)
        else:
            if unit not in (None, ""):
                raise Bad(
                    "unit",
                    f"test {test.code} is {test.result_kind}; it takes no unit",
                    code="unit_not_allowed",
                )
            if qualifier:
                raise Bad(
                    "qualifier",
                    f"test {test.code} is {test.result_kind}; no qualifier",
                    code="qualifier_not_allowed",
                )
            if not isinstance(item["value"], str):
                raise Bad(
                    "value",
                    f"test {test.code} is {test.result_kind}; send a text",
                    code="wrong_type",
                )
            text_value = self._text_value(test, posted)
            unit = ""
        return _Row(
            index=index,
            test=test,
            run=None,
            replicate=1,
            value_as_posted=posted,
            unit_as_posted=unit or "",
            qualifier=qualifier or "",
            numeric_value=numeric,
            canonical_value=canonical_value,
            text_value=text_value,
            raw_data=None,
            performed_by="",
            performed_at=None,
            supersedes=None,
            supersede_reason="",
        )

    @staticmethod
    def _text_value(test: TestMethod, posted: str) -> str:
        key = " ".join(posted.split()).casefold()
        if test.result_kind == ResultKind.DETECTION:
            value = DETECTION_VALUES.get(key)
            if value is None:
                raise Bad("value", "must be 'detected' or 'not detected'", code="value_not_allowed")
            return value
        allowed = test.allowed_values or []
        if not allowed:
            return " ".join(posted.split())
        for choice in allowed:
            if " ".join(str(choice).split()).casefold() == key:
                return str(choice)
        raise Bad(
            "value",
            f"{posted!r} is not an allowed value of test {test.code} "
            f"(allowed: {', '.join(map(str, allowed))})",
            code="value_not_allowed",
        )

    def _run(self, index: int, item: Mapping[str, Any], test: Any, row: _Row | None) -> None:
        ref = item.get("run")
        if ref is None or ref == "":
            return
        run = self.runs.get(ref) if isinstance(ref, str) else None
        if run is None:
            raise Bad(
                "run",
                f"unknown assay run {ref!r} (post it to /api/v1/assay-runs/ first)",
                code="unknown_run",
            )
        if test is not None and run.method.technique.casefold() != test.technique.casefold():
            raise Bad(
                "run",
                f"run {ref} is a {run.method.technique} run; "
                f"test {test.code} is measured by {test.technique}",
                code="run_technique_mismatch",
            )
        if row is not None:
            row.run = run

    def _supersedes(self, index: int, item: Mapping[str, Any], test: Any, row: _Row | None) -> None:
        target = item.get("supersedes")
        reason = item.get("supersede_reason")
        if target is None:
            if reason not in (None, ""):
                raise Bad(
                    "supersede_reason",
                    "given without 'supersedes'",
                    code="supersede_reason_without_supersedes",
                )
            return
        target = integer(value=target, field="supersedes")
        found = self.targets.get(target)
        if found is None:
            raise Bad("supersedes", f"result {target} does not exist", code="supersedes_unknown")
        lot_id, test_id = found
        if lot_id != self.lot.pk:
            raise Bad(
                "supersedes",
                f"result {target} belongs to another lot",
                code="supersedes_other_lot",
            )
        if test is not None and test_id != test.pk:
            raise Bad(
                "supersedes",
                f"result {target} is a result of another test",
                code="supersedes_other_test",
            )
        if target in self.already_superseded:
            raise Bad(
                "supersedes",
                f"result {target} is already superseded by result "
                f"{self.already_superseded[target]}",
                code="already_superseded",
            )
        if target in self.claimed:
            raise Bad(
                "supersedes",
                f"item {self.claimed[target]} supersedes result {target} too",
                code="supersedes_claimed_twice",
            )
        self.claimed[target] = index
        if not isinstance(reason, str) or not reason.strip():
            raise Bad(
                "supersede_reason",
                "is required when a result supersedes another",
                code="reason_required",
            )
        if row is not None:
            row.supersedes = target
            row.supersede_reason = reason.strip()

    def _rest(self, index: int, item: Mapping[str, Any], test: Any, row: _Row | None) -> None:
        replicate = item.get("replicate")
        replicate = 1 if replicate is None else integer(value=replicate, field="replicate")
        if not 1 <= replicate <= 32767:
            raise Bad("replicate", "must be between 1 and 32767", code="out_of_range")
        performed_by = short_text(value=item.get("performed_by"), field="performed_by", limit=150)
        performed_at = moment(value=item.get("performed_at"), field="performed_at", now=self.now)
        raw = item.get("raw_data")
        raw_text = None
        if raw is not None:
            try:
                raw_text = json.dumps(raw, allow_nan=False, separators=(",", ":"))
            except ValueError:
                raise Bad(
                    "raw_data",
                    "contains NaN or Infinity, which JSON cannot hold",
                    code="raw_data_not_finite",
                ) from None
        if row is not None:
            row.replicate = replicate
            row.performed_by = performed_by
            row.performed_at = performed_at
            row.raw_data = raw_text


# ---------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------


def results_record(*, lot_number: str, items: Any, by: Principal) -> ResultsReceipt:
    """Store a batch of results for one lot, all or none; see the module docstring.

    Raises :class:`~services.errors.NotFound` (unknown lot),
    :class:`~services.errors.InvalidInput` (every problem, by item index, field and
    code) or :class:`~services.errors.Refused` (a concurrent supersession).
    Runs in the caller's transaction if there is one (the API's idempotency
    wrapper), else in its own.
    """
    if not isinstance(items, list) or not items:
        code = "required" if items is None else "empty" if items == [] else "not_a_list"
        raise InvalidInput.single("results", "must be a non-empty list of results", code=code)
    limit = settings.RESULTS_PER_REQUEST_LIMIT
    if len(items) > limit:
        raise InvalidInput.single(
            "results",
            f"{len(items)} results in one request; the limit is {limit}",
            code="too_many_results",
        )
    lot = Lot.objects.filter(lot_number=lot_number).first()
    if lot is None:
        raise lot_not_found(lot_number)
    now = timezone.now()
    validator = _Validator(lot, items, now)
    rows = [row for index, item in enumerate(items) if (row := validator.validate(index, item))]
    if validator.errors:
        raise InvalidInput(validator.errors)
    with transaction.atomic():
        try:
            ids = _insert(rows, lot=lot, by=by, received_at=now)
        except IntegrityError as exc:
            constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "")
            if constraint and "supersedes" in constraint:
                raise Refused(
                    "a result named in 'supersedes' was superseded by another request meanwhile",
                    code="superseded_meanwhile",
                ) from exc
            raise
        data_version, status = lot_data_changed(lot_id=lot.pk)
        lot.data_version, lot.status = data_version, status
        actor = actor_of(principal=by)
        audit_record_many(actor=actor, changes=[_audit_change(rows, ids, lot)])
        # The release side reacts in this transaction (the first result: in testing).
        hooks.results_recorded.emit(
            hooks.ResultsRecorded(lot=lot, actor=actor, result_ids=tuple(ids))
        )
        lot_evaluation_enqueue_on_commit(lot_id=lot.pk)
    return ResultsReceipt(
        lot_number=lot.lot_number,
        lot_status=lot.status,
        data_version=lot.data_version,
        received_at=now,
        results=[
            RecordedResult(
                id=pk,
                index=row.index,
                test=row.test.code,
                canonical_value=row.canonical_value,
                canonical_unit=row.test.canonical_unit if row.canonical_value is not None else "",
                qualifier=row.qualifier,
                text_value=row.text_value,
            )
            for pk, row in zip(ids, rows, strict=True)
        ],
    )


def _insert(rows: list[_Row], *, lot: Lot, by: Principal, received_at: datetime) -> list[int]:
    """COPY the rows into qc_result with ids drawn from its sequence first; return the ids."""
    client, user = posted_by(principal=by)
    client_id = client.pk if client is not None else None
    user_id = user.pk if user is not None else None
    request_id = current_request_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('qc_result', 'id')) FROM generate_series(1, %s)",
            [len(rows)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        copy_sql = f"COPY qc_result ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:  # psycopg 3: one round trip
            write = copy.write_row
            lot_id = lot.pk
            for pk, row in zip(ids, rows, strict=True):
                write(
                    (
                        pk,
                        lot_id,
                        row.test.pk,
                        row.run.pk if row.run is not None else None,
                        row.replicate,
                        row.value_as_posted,
                        row.unit_as_posted,
                        row.qualifier,
                        row.numeric_value,
                        row.canonical_value,
                        row.test.canonical_unit if row.canonical_value is not None else "",
                        row.text_value,
                        row.raw_data,
                        row.performed_by,
                        row.performed_at,
                        row.supersedes,
                        row.supersede_reason,
                        client_id,
                        user_id,
                        received_at,
                        request_id,
                    )
                )
    return ids


def _audit_change(rows: list[_Row], ids: list[int], lot: Lot) -> Change:
    """One audit event per request (21 CFR 11.10(e)), binding every result it stored.

    The event lists each result's id and content hash (``records``), computed by
    PostgreSQL over the stored rows: the values themselves are in the rows, and
    the chain proves they are still the values recorded.  What a reader of the
    trail needs at a glance (how many, which tests, which supersede) is kept.
    """
    values: dict[str, Any] = {
        "results": len(rows),
        "tests": sorted({row.test.code for row in rows}),
    }
    supersessions = [
        {"result": pk, "supersedes": row.supersedes, "reason": row.supersede_reason}
        for pk, row in zip(ids, rows, strict=True)
        if row.supersedes is not None
    ]
    if supersessions:
        values["supersessions"] = supersessions
    return Change(
        AuditAction.LOT_RESULTS_RECORDED,
        "lot",
        lot.lot_number,
        None,
        values,
        record_hashes(Result, ids),
    )
