"""Investigations: a filtered list, the detail with its log, and the workflow's commands.

``GET /api/v1/investigations/?lot=&kind=&phase=&open=true``; commands under
``/api/v1/investigations/{number}/``: entries, phase-one-conclusion,
invalidate-result (second person's signature), allow-retest, phase-two, conclude.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from releases import selectors
from releases.api import permissions as roles
from releases.api.errors import release_errors
from releases.api.lots import REFUSALS
from releases.api.permissions import PersonWithRole
from releases.api.serializers import (
    ConcludeInput,
    DeviationInput,
    EntryInput,
    EntrySerializer,
    InvestigationDetailSerializer,
    InvestigationSerializer,
    PhaseOneInput,
    PhaseTwoInput,
    ReasonOnlyInput,
    SignedInput,
)
from releases.models import Investigation, InvestigationKind, InvestigationPhase
from releases.services.investigations import investigation_add_entry, investigation_open_deviation
from releases.services.oos import (
    investigation_allow_retest,
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from services.accounts.models import User


@extend_schema(
    tags=["investigations"],
    parameters=[
        OpenApiParameter("lot", str),
        OpenApiParameter("kind", str, enum=InvestigationKind.values),
        OpenApiParameter("phase", str, enum=InvestigationPhase.values),
        OpenApiParameter("open", bool),
    ],
)
class InvestigationListView(ListAPIView):
    """Investigations, newest first; QA opens a deviation with POST."""

    permission_classes = [PersonWithRole]
    serializer_class = InvestigationSerializer
    queryset = Investigation.objects.none()

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.investigations_list(
            lot=params.get("lot", ""),
            kind=params.get("kind", ""),
            phase=params.get("phase", ""),
            open_only=params.get("open", "").lower() in {"1", "true", "yes"},
        )

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            return [PersonWithRole.of(*roles.QA)()]
        return super().get_permissions()

    @extend_schema(request=DeviationInput, responses={201: InvestigationSerializer, **REFUSALS})
    def post(self, request: Request) -> Response:
        data = _validated(DeviationInput, request)
        with release_errors():
            investigation = investigation_open_deviation(
                lot_number=data["lot"], by=request.user, summary=data["summary"]
            )
        return Response(InvestigationSerializer(investigation).data, status=201)


@extend_schema(tags=["investigations"])
class InvestigationDetailView(GenericAPIView):
    permission_classes = [PersonWithRole]
    serializer_class = InvestigationDetailSerializer

    def get(self, request: Request, number: str) -> Response:
        with release_errors():
            investigation = selectors.investigation_get(number=number)
        return Response(InvestigationDetailSerializer(investigation).data)


def _validated(input_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = input_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class InvestigationCommand(GenericAPIView):
    input_class: ClassVar[type[serializers.Serializer]] = ReasonOnlyInput
    output_class: ClassVar[type[serializers.Serializer]] = InvestigationSerializer
    meanings: ClassVar[tuple[str, ...]] = ()
    call: ClassVar[Callable[..., Any]]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.input_class

    def post(self, request: Request, number: str) -> Response:
        data = _validated(self.input_class, request)
        meaning = data.pop("meaning", None)
        if meaning is not None and meaning not in self.meanings:
            raise serializers.ValidationError(
                {"meaning": [f"this action signs with the meaning {' or '.join(self.meanings)}"]}
            )
        if issubclass(self.input_class, SignedInput):
            data["request"] = request._request
        with release_errors():
            record = type(self).call(number=number, by=cast(User, request.user), **data)
        if isinstance(record, Investigation):
            record = selectors.investigation_get(number=record.number)
        return Response(self.output_class(record).data, status=status.HTTP_201_CREATED)


def command(
    name: str,
    allowed: tuple[str, ...],
    service: Callable[..., Any],
    *,
    doc: str,
    input_class: type[serializers.Serializer] = ReasonOnlyInput,
    output_class: type[serializers.Serializer] = InvestigationDetailSerializer,
    meanings: tuple[str, ...] = (),
) -> type[InvestigationCommand]:
    view = type(
        name,
        (InvestigationCommand,),
        {
            "permission_classes": [PersonWithRole.of(*allowed)],
            "input_class": input_class,
            "output_class": output_class,
            "meanings": meanings,
            "call": staticmethod(service),
            "__doc__": doc,
        },
    )
    decorated = extend_schema(
        request=input_class,
        responses={201: output_class, **REFUSALS},
        tags=["investigations"],
        description=doc,
    )(view)
    return cast(type[InvestigationCommand], decorated)


class InvalidationSerializer(serializers.Serializer):
    result_id = serializers.IntegerField()
    reason = serializers.CharField()
    investigation = serializers.CharField(source="investigation.number")
    proposed_by = serializers.CharField(source="proposed_by.username")
    signed_by = serializers.CharField(source="signature.printed_name")
    signature_id = serializers.IntegerField()
    invalidated_at = serializers.DateTimeField()


EntriesView = command(
    "EntriesView",
    roles.CONTRIBUTORS,
    investigation_add_entry,
    input_class=EntryInput,
    output_class=EntrySerializer,
    doc="Record a laboratory check (`entry_type` 'check') or a note; Phase I records every "
    "check made before it concludes.",
)
PhaseOneConclusionView = command(
    "PhaseOneConclusionView",
    roles.LAB_SUPERVISORS,
    investigation_conclude_phase_one,
    input_class=PhaseOneInput,
    doc="Conclude Phase I: an assignable laboratory cause proposes the result's invalidation "
    "(a second person signs it); no assignable cause moves to Phase II.",
)
InvalidateResultView = command(
    "InvalidateResultView",
    roles.LAB_SUPERVISORS,
    investigation_invalidate_result,
    input_class=SignedInput,
    output_class=InvalidationSerializer,
    meanings=("invalidated",),
    doc="A second person (not the proposer, not the analyst) signs the proposed invalidation "
    "(meaning 'invalidated'; 21 CFR 610.1); the lot is re-evaluated and a retest allowed.",
)
AllowRetestView = command(
    "AllowRetestView",
    roles.LAB_SUPERVISORS,
    investigation_allow_retest,
    doc="Allow a retest in Phase II: by another analyst, within the method's budget fixed "
    "when the investigation opened.",
)
PhaseTwoView = command(
    "PhaseTwoView",
    roles.QA,
    investigation_record_phase_two,
    input_class=PhaseTwoInput,
    output_class=EntrySerializer,
    doc="QA records the production investigation: which other lots were checked, and the "
    "findings (21 CFR 211.192).",
)
ConcludeView = command(
    "ConcludeView",
    roles.QA,
    investigation_conclude,
    input_class=ConcludeInput,
    meanings=("concluded",),
    doc="QA concludes with a signature: `confirmed_oos` after Phase II (an OOS lot not yet "
    "released is rejected, 21 CFR 211.165(f)); `assessed` for a trend notice or deviation.",
)
