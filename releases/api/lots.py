"""Lot decisions: explicit command endpoints, each with its own input (NetBox style).

``POST /api/v1/lots/{lot_number}/<command>/`` with ``password`` and ``reason``:
approve, release, conditional-release, finalise, reject, hold, release-hold,
audit-trail-review, result-review, recall-decision.  Who may call each, and the
statement the signer confirms, come from ``releases.policy``; the checklist
endpoint returns them before anyone signs.  A machine client always gets 403.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from releases import selectors
from releases.api.commands import command_view
from releases.api.permissions import PersonWithRole, ReadersAndMachines
from releases.api.serializers import (
    AuditTrailReviewInput,
    AuditTrailReviewSerializer,
    ChecklistSerializer,
    ConditionalReleaseInput,
    DispositionSerializer,
    HoldInput,
    RecallDecisionInput,
    RecallDecisionSerializer,
    ResultReviewSerializer,
    SignedInput,
)
from releases.models import Disposition
from releases.policy import ActionKey, Checklist
from releases.services.decisions import (
    lot_approve,
    lot_conditionally_release,
    lot_finalise_conditional_release,
    lot_reject,
    lot_release,
)
from releases.services.holds import lot_hold, lot_release_hold
from releases.services.recalls import lot_record_recall_decision
from releases.services.reviews import lot_record_audit_trail_review, lot_record_result_review
from services.accounts.models import User


def _comment(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["comment"] = data.pop("reason")
    return data


def _recall(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["investigation_number"] = data.pop("investigation", None) or None
    return data


ApproveView = command_view(
    ActionKey.APPROVE,
    lot_approve,
    input_class=SignedInput,
    output_class=DispositionSerializer,
    doc="QA approves a lot ready for review (signature meaning 'approved'); a Qualified "
    "Person then certifies it (EU GMP Annex 16).",
)
ReleaseView = command_view(
    ActionKey.RELEASE,
    lot_release,
    input_class=SignedInput,
    output_class=DispositionSerializer,
    doc="A Qualified Person certifies an approved lot (meaning 'released'); for a product "
    "that needs no QP certification, a QA officer releases a lot ready for review.",
)
ConditionalReleaseView = command_view(
    ActionKey.CONDITIONAL_RELEASE,
    lot_conditionally_release,
    input_class=ConditionalReleaseInput,
    output_class=DispositionSerializer,
    doc="A Qualified Person releases a lot whose only missing results are listed in "
    "`pending_tests` (e.g. 14-day sterility); every other required line conforms.",
)
FinaliseView = command_view(
    ActionKey.FINALISE,
    lot_finalise_conditional_release,
    input_class=SignedInput,
    output_class=DispositionSerializer,
    doc="A Qualified Person finalises a conditional release once the pending results conform.",
)
RejectView = command_view(
    ActionKey.REJECT,
    lot_reject,
    input_class=SignedInput,
    output_class=DispositionSerializer,
    doc="QA rejects the lot with a signature and a reason (21 CFR 211.165(f)).",
)
HoldView = command_view(
    ActionKey.HOLD,
    lot_hold,
    input_class=HoldInput,
    output_class=DispositionSerializer,
    doc="QA or a QP puts an open lot on hold, with a reason (no signature; a password, "
    "when given, is checked).",
)
ReleaseHoldView = command_view(
    ActionKey.RELEASE_HOLD,
    lot_release_hold,
    input_class=HoldInput,
    output_class=DispositionSerializer,
    doc="QA or a QP releases a hold; the lot returns to the state it left.",
)
AuditTrailReviewView = command_view(
    ActionKey.AUDIT_TRAIL_REVIEW,
    lot_record_audit_trail_review,
    input_class=AuditTrailReviewInput,
    output_class=AuditTrailReviewSerializer,
    fields=_comment,
    doc="QA signs that it reviewed the lot's audit trail up to `up_to_sequence` (default: "
    "the latest event); `reason` is the review comment (21 CFR 211.192).",
)
ResultReviewView = command_view(
    ActionKey.RESULT_REVIEW,
    lot_record_result_review,
    input_class=SignedInput,
    output_class=ResultReviewSerializer,
    fields=_comment,
    doc="A QC reviewer, who performed none of them, signs the review of every result of "
    "the lot (21 CFR 211.194(a)(8)); `reason` is the review comment.",
)
RecallDecisionView = command_view(
    ActionKey.RECALL_DECISION,
    lot_record_recall_decision,
    input_class=RecallDecisionInput,
    output_class=RecallDecisionSerializer,
    fields=_recall,
    doc="QA records whether distributed product of a released or conditionally released "
    "lot is recalled (signed); a recall also rejects the lot.",
)


@extend_schema(tags=["release"])
class DispositionListView(ListAPIView):
    """Every decision on the lot, oldest first, with its signature manifest."""

    permission_classes = [ReadersAndMachines]
    serializer_class = DispositionSerializer
    pagination_class = None
    queryset = Disposition.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Disposition.objects.none()
        lot = selectors.lot_get(lot_number=self.kwargs["lot_number"])
        return selectors.lot_dispositions(lot=lot)


class ReleaseChecklistView(GenericAPIView):
    """The release checklist for the caller: every guard, passed or with its reasons, and
    every action of the policy on this lot with the statement its signer confirms."""

    permission_classes = [PersonWithRole]
    serializer_class = ChecklistSerializer

    @extend_schema(
        tags=["release"],
        parameters=[
            OpenApiParameter("action", str, enum=[c.value for c in Checklist]),
            OpenApiParameter("pending_tests", str, many=True),
        ],
    )
    def get(self, request: Request, lot_number: str) -> Response:
        checklist = selectors.lot_release_checklist(
            lot_number=lot_number,
            action=request.query_params.get("action", Checklist.RELEASE),
            signer=cast(User, request.user),
            pending_tests=tuple(request.query_params.getlist("pending_tests")),
        )
        return Response(ChecklistSerializer(checklist).data)
