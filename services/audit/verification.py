"""The chain's status, for people: run the verifier, store what it found, report progress.

This module is the one place the exports, the API and the web UI call the hash-chain
verifier (``services.audit.selectors.audit_chain_verify``), so a better verifier is
swapped in here alone.  A run's progress lives in the cache (a count of events
checked, updated per batch); its result is one append-only ``ChainVerification``
row and one audit event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from services.audit.actions import AuditAction
from services.audit.actor import Actor
from services.audit.models import AuditEvent, ChainVerification
from services.audit.selectors import ChainBreak, RecordsChecked, audit_chain_verify
from services.audit.services import audit_record
from services.celery import app as celery_app

log = structlog.get_logger(__name__)

# Trails up to this size are verified on the spot when an export is made; longer
# ones state the newest stored verification (run it from /audit/ or the API).
VERIFY_ON_EXPORT_LIMIT = 50_000
CHAIN_VERIFY_TASK = "services.audit.tasks.chain_verify"
_PROGRESS_TTL = 24 * 3600


@dataclass(frozen=True, slots=True)
class ChainHead:
    sequence: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """What an export states about the chain when it was made."""

    head: ChainHead
    verification: ChainVerification | None

    @property
    def verified(self) -> bool | None:
        """True/False: the newest verification passed/failed; None: never verified."""
        return None if self.verification is None else self.verification.passed

    @property
    def covers_head(self) -> bool:
        v = self.verification
        return v is not None and v.head_sequence >= self.head.sequence

    def as_dict(self) -> dict[str, Any]:
        v = self.verification
        return {
            "head_sequence": self.head.sequence,
            "head_hash": self.head.hash,
            "verification": None
            if v is None
            else {
                "passed": v.passed,
                "verified_at": v.finished_at.isoformat(),
                "verified_up_to": v.head_sequence,
                "events_checked": v.checked,
                "first_failing_sequence": v.first_failing_sequence,
                "problem": v.problem,
                "records_checked": v.records_checked,
                "failing_table": v.failing_table,
                "failing_record_id": v.failing_record_id,
                "covers_head": self.covers_head,
            },
        }

    def sentence(self) -> str:
        v = self.verification
        head = f"Audit chain head #{self.head.sequence} {self.head.hash or '(empty)'}"
        if v is None:
            return f"{head}; the chain has never been verified."
        when = f"{v.finished_at:%Y-%m-%d %H:%M:%S} UTC"
        if not v.passed:
            # A record's problem names its table, id and binding event itself.
            where = "" if v.failing_table else f"event #{v.first_failing_sequence} "
            return f"{head}; VERIFICATION FAILED at {when}: {where}{v.problem}."
        tail = "" if self.covers_head else f" (events after #{v.head_sequence} not yet verified)"
        return (
            f"{head}; verification passed at {when} up to #{v.head_sequence} "
            f"({v.records_checked} bound records recomputed){tail}."
        )


def chain_head() -> ChainHead:
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return ChainHead(*last) if last else ChainHead(0, "")


def latest_verification() -> ChainVerification | None:
    return ChainVerification.objects.order_by("-finished_at", "-pk").first()


def chain_status(*, actor: Actor, verify_limit: int = VERIFY_ON_EXPORT_LIMIT) -> ChainStatus:
    """The head now, and a verification that covers it when the trail is short enough."""
    head = chain_head()
    latest = latest_verification()
    stale = latest is None or latest.head_sequence < head.sequence
    if stale and head.sequence <= verify_limit:
        latest = chain_verification_run(run_id=str(uuid.uuid4()), actor=actor)
        head = chain_head() if latest.head_sequence > head.sequence else head
    return ChainStatus(head=head, verification=latest)


def _progress_key(run_id: str) -> str:
    return f"audit:chain-verification:{run_id}"


def chain_progress(*, run_id: str) -> dict[str, Any] | None:
    """``{"state": "queued"|"running"|"done", "checked": n, "total": m}`` or None."""
    progress = cache.get(_progress_key(run_id))
    if progress is None and ChainVerification.objects.filter(run_id=run_id).exists():
        return {"state": "done", "checked": 0, "total": 0}
    return progress  # type: ignore[no-any-return]


def chain_verification_queued(*, run_id: str, total: int) -> None:
    cache.set(
        _progress_key(run_id), {"state": "queued", "checked": 0, "total": total}, _PROGRESS_TTL
    )


def chain_verification_run(*, run_id: str, actor: Actor) -> ChainVerification:
    """Verify the whole chain now; store and audit the outcome (idempotent per ``run_id``)."""
    done = ChainVerification.objects.filter(run_id=run_id).first()
    if done is not None:
        return done
    started = timezone.now()
    head = chain_head()
    checked = records_checked = 0
    failure: ChainBreak | None = None
    for outcome in audit_chain_verify():
        if isinstance(outcome, ChainBreak):
            failure = outcome
            break
        if isinstance(outcome, RecordsChecked):
            records_checked = outcome.count
            continue
        checked = outcome
        cache.set(
            _progress_key(run_id),
            {"state": "running", "checked": checked, "total": head.sequence},
            _PROGRESS_TTL,
        )
    with transaction.atomic():
        verification = ChainVerification.objects.create(
            run_id=run_id,
            requested_by=actor.name,
            started_at=started,
            finished_at=timezone.now(),
            head_sequence=max(head.sequence, checked),
            head_hash=head.hash,
            checked=checked,
            passed=failure is None,
            first_failing_sequence=failure.sequence if failure else None,
            problem=failure.problem if failure else "",
            records_checked=records_checked,
            failing_table=failure.table if failure else "",
            failing_record_id=failure.record_id if failure else None,
        )
        audit_record(
            actor=actor,
            action=AuditAction.AUDIT_CHAIN_VERIFIED,
            object_type="chain_verification",
            object_id=verification.pk,
            new_values={
                "passed": verification.passed,
                "checked": checked,
                "head_sequence": verification.head_sequence,
                "first_failing_sequence": verification.first_failing_sequence,
                "problem": verification.problem,
                "records_checked": records_checked,
                "failing_table": verification.failing_table,
                "failing_record_id": verification.failing_record_id,
            },
        )
    cache.set(
        _progress_key(run_id),
        {"state": "done", "checked": checked, "total": head.sequence},
        _PROGRESS_TTL,
    )
    return verification


def chain_verification_enqueue(*, actor: Actor) -> str:
    """Ask the documents worker to verify the chain; returns the run id to poll.

    When the broker cannot take the task the run is done here and now (the
    verifier is the same), so asking never fails.
    """
    run_id = str(uuid.uuid4())
    chain_verification_queued(run_id=run_id, total=chain_head().sequence)
    try:
        celery_app.send_task(
            CHAIN_VERIFY_TASK,
            args=(run_id, str(actor.type), actor.id, actor.name),
            queue="documents",
            retry=False,
            retry_policy={"max_retries": 0},
        )
    except Exception as exc:  # kombu raises many kinds of connection errors
        log.warning("could not publish the chain verification; verifying now", error=str(exc))
        chain_verification_run(run_id=run_id, actor=actor)
    return run_id
