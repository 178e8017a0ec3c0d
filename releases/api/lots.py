"""Lot decisions: explicit command endpoints, each with its own input (NetBox style).

``POST /api/v1/lots/{lot_number}/<command>/`` with ``password`` and ``reason``:
approve, release, conditional-release, finalise, reject, hold, release-hold,
audit-trail-review, result-review, recall-decision.  People only, by role
(session authentication); a machine client always gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from releases import selectors
from releases.api import permissions as roles
from releases.api.errors import release_errors
from releases.api.permissions import PersonWithRole, ReadersAndMachines
from releases.api.serializers import (
    AuditTrailReviewInput,
    AuditTrailReviewSerializer,
    ConditionalReleaseInput,
    DispositionSerializer,
    HoldInput,
    ReadinessSerializer,
    RecallDecisionInput,
    RecallDecisionSerializer,
    ResultReviewSerializer,
    SignedInput,
)
from releases.models import Disposition
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

REFUSALS = {
    400: OpenApiResponse(description="Malformed request (a field and the reason)."),
    403: OpenApiResponse(
        description="Wrong role, machine client, or wrong password (counted toward lockout)."
    ),
    404: OpenApiResponse(description="Unknown lot."),
    409: OpenApiResponse(description="Refused by the guards: `reasons` lists every one."),
}


class LotCommand(GenericAPIView):
    """One signed command on a lot; subclasses name the roles, input, service and output."""

    input_class: ClassVar[type[serializers.Serializer]] = SignedInput
    output_class: ClassVar[type[serializers.Serializer]] = DispositionSerializer
    # The signature meanings this command may be asked for (``meaning`` is optional).
    meanings: ClassVar[tuple[str, ...]] = ()

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.input_class

    def run(self, person: User, lot_number: str, data: dict[str, Any], request: Request) -> Any:
        raise NotImplementedError

    def post(self, request: Request, lot_number: str) -> Response:
        serializer = self.input_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        meaning = data.pop("meaning", None)
        if meaning is not None and meaning not in self.meanings:
            allowed = " or ".join(self.meanings) or "none"
            raise serializers.ValidationError(
                {"meaning": [f"this action signs with the meaning {allowed}"]}
            )
        with release_errors():
            record = self.run(cast(User, request.user), lot_number, data, request)
        return Response(self.output_class(record).data, status=status.HTTP_201_CREATED)


def command(
    name: str,
    allowed: tuple[str, ...],
    service: Callable[..., Any],
    *,
    doc: str,
    meanings: tuple[str, ...] = (),
    input_class: type[serializers.Serializer] = SignedInput,
    output_class: type[serializers.Serializer] = DispositionSerializer,
    fields: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> type[LotCommand]:
    """Build a command view: the roles it admits, the service it calls, its documentation."""

    def run(
        self: LotCommand, person: User, lot_number: str, data: dict[str, Any], request: Request
    ) -> Any:
        kwargs = fields(data) if fields else data
        return service(lot_number=lot_number, by=person, request=request._request, **kwargs)

    view = type(
        name,
        (LotCommand,),
        {
            "permission_classes": [PersonWithRole.of(*allowed)],
            "input_class": input_class,
            "output_class": output_class,
            "meanings": meanings,
            "run": run,
            "__doc__": doc,
        },
    )
    decorated = extend_schema(
        request=input_class,
        responses={201: output_class, **REFUSALS},
        tags=["release"],
        description=doc,
    )(view)
    return cast(type[LotCommand], decorated)


def _comment(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["comment"] = data.pop("reason")
    return data


def _recall(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["investigation_number"] = data.pop("investigation", None) or None
    return data


ApproveView = command(
    "ApproveView",
    roles.QA,
    lot_approve,
    meanings=("approved",),
    doc="QA approves a lot ready for review (signature meaning 'approved'); a Qualified "
    "Person then certifies it (EU GMP Annex 16).",
)
ReleaseView = command(
    "ReleaseView",
    roles.QA_OR_QP,
    lot_release,
    meanings=("released",),
    doc="A Qualified Person certifies an approved lot (meaning 'released'); for a product "
    "that needs no QP certification, a QA officer releases a lot ready for review.",
)
ConditionalReleaseView = command(
    "ConditionalReleaseView",
    roles.QP,
    lot_conditionally_release,
    meanings=("conditionally_released",),
    input_class=ConditionalReleaseInput,
    doc="A Qualified Person releases a lot whose only missing results are listed in "
    "`pending_tests` (e.g. 14-day sterility); every other required line conforms.",
)
FinaliseView = command(
    "FinaliseView",
    roles.QP,
    lot_finalise_conditional_release,
    meanings=("released",),
    doc="A Qualified Person finalises a conditional release once the pending results conform.",
)
RejectView = command(
    "RejectView",
    roles.QA,
    lot_reject,
    meanings=("rejected",),
    doc="QA rejects the lot with a signature and a reason (21 CFR 211.165(f)).",
)
HoldView = command(
    "HoldView",
    roles.QA_OR_QP,
    lot_hold,
    input_class=HoldInput,
    doc="QA or a QP puts an open lot on hold, with a reason (no signature; a password, "
    "when given, is checked).",
)
ReleaseHoldView = command(
    "ReleaseHoldView",
    roles.QA_OR_QP,
    lot_release_hold,
    input_class=HoldInput,
    doc="QA or a QP releases a hold; the lot returns to the state it left.",
)
AuditTrailReviewView = command(
    "AuditTrailReviewView",
    roles.QA,
    lot_record_audit_trail_review,
    meanings=("reviewed",),
    input_class=AuditTrailReviewInput,
    output_class=AuditTrailReviewSerializer,
    fields=_comment,
    doc="QA signs that it reviewed the lot's audit trail up to `up_to_sequence` (default: "
    "the latest event); `reason` is the review comment (21 CFR 211.192).",
)
ResultReviewView = command(
    "ResultReviewView",
    roles.QC_REVIEWER,
    lot_record_result_review,
    meanings=("reviewed",),
    output_class=ResultReviewSerializer,
    fields=_comment,
    doc="A QC reviewer, who performed none of them, signs the review of every result of "
    "the lot (21 CFR 211.194(a)(8)); `reason` is the review comment.",
)
RecallDecisionView = command(
    "RecallDecisionView",
    roles.QA,
    lot_record_recall_decision,
    meanings=("approved",),
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
        with release_errors():
            lot = selectors.lot_get(lot_number=self.kwargs["lot_number"])
        return selectors.lot_dispositions(lot=lot)


class ReleaseChecklistView(GenericAPIView):
    """The release checklist for the caller: every guard, passed or with its reasons."""

    permission_classes = [PersonWithRole]
    serializer_class = ReadinessSerializer

    @extend_schema(
        tags=["release"],
        parameters=[
            OpenApiParameter(
                "action", str, enum=["approve", "release", "conditional_release", "finalise"]
            ),
            OpenApiParameter("pending_tests", str, many=True),
        ],
    )
    def get(self, request: Request, lot_number: str) -> Response:
        with release_errors():
            readiness = selectors.lot_release_checklist(
                lot_number=lot_number,
                action=request.query_params.get("action", "release"),
                signer=cast(User, request.user),
                pending_tests=tuple(request.query_params.getlist("pending_tests")),
            )
        return Response(ReadinessSerializer(readiness).data)
