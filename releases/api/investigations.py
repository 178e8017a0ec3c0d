"""Investigations: a filtered list, the detail with its log, and the workflow's commands.

``GET /api/v1/investigations/?lot=&kind=&phase=&open=true``; commands under
``/api/v1/investigations/{number}/``: entries, phase-one-conclusion (signed),
invalidate-result (second person's signature), allow-retest, phase-two, conclude,
attachments (multipart: raw-data files; ``attachments/{id}/`` serves one).
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from releases import selectors
from releases.api.commands import command_view, validated
from releases.api.permissions import PersonWithRole, PolicyPermission
from releases.api.serializers import (
    AttachmentInput,
    AttachmentSerializer,
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
from releases.downloads import attachment_download
from releases.models import Investigation, InvestigationKind, InvestigationPhase
from releases.policy import ActionKey
from releases.services.investigations import (
    attachment_read,
    investigation_add_entry,
    investigation_attach_file,
    investigation_open_deviation,
)
from releases.services.oos import (
    investigation_allow_retest,
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from services.accounts.context import AuthContext
from services.api.filters import EMPTY_REASON, query_bool, query_choice


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
        if "lot" in params and not params["lot"]:
            raise ValidationError({"lot": [EMPTY_REASON]})
        return selectors.investigations_list(
            lot=params.get("lot", ""),
            kind=query_choice(params, "kind", InvestigationKind.values),
            phase=query_choice(params, "phase", InvestigationPhase.values),
            open_only=bool(query_bool(params, "open")),
        )

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            return [PolicyPermission.of(ActionKey.OPEN_DEVIATION)()]
        return super().get_permissions()

    @extend_schema(request=DeviationInput, responses={201: InvestigationSerializer})
    def post(self, request: Request) -> Response:
        data = validated(DeviationInput, request)
        investigation = investigation_open_deviation(
            lot_number=data["lot"],
            auth=AuthContext.from_request(request),
            summary=data["summary"],
        )
        return Response(InvestigationSerializer(investigation).data, status=201)


@extend_schema(tags=["investigations"])
class InvestigationDetailView(GenericAPIView):
    permission_classes = [PersonWithRole]
    serializer_class = InvestigationDetailSerializer

    def get(self, request: Request, number: str) -> Response:
        investigation = selectors.investigation_get(number=number)
        return Response(InvestigationDetailSerializer(investigation).data)


class InvalidationSerializer(serializers.Serializer):
    result_id = serializers.IntegerField()
    reason = serializers.CharField()
    investigation = serializers.CharField(source="investigation.number")
    proposed_by = serializers.CharField(source="proposed_by.username")
    signed_by = serializers.CharField(source="signature.printed_name")
    signature_id = serializers.IntegerField()
    invalidated_at = serializers.DateTimeField()


def _investigation(record: Investigation) -> Investigation:
    return selectors.investigation_get(number=record.number)


def investigation_command_view(
    key: ActionKey,
    service: Any,
    *,
    input_class: type[serializers.Serializer] = ReasonOnlyInput,
    output_class: type[serializers.Serializer] = InvestigationDetailSerializer,
    doc: str,
    fields: Any = None,
    parsers: tuple[type[BaseParser], ...] = (),
) -> Any:
    return command_view(
        key,
        service,
        input_class=input_class,
        output_class=output_class,
        present=_investigation if output_class is InvestigationDetailSerializer else None,
        subject="number",
        tag="investigations",
        doc=doc,
        fields=fields,
        parsers=parsers,
    )


EntriesView = investigation_command_view(
    ActionKey.INVESTIGATION_ENTRY,
    investigation_add_entry,
    input_class=EntryInput,
    output_class=EntrySerializer,
    doc="Record a laboratory check (`entry_type` 'check') or a note; Phase I records every "
    "check made before it concludes.",
)
PhaseOneConclusionView = investigation_command_view(
    ActionKey.PHASE_ONE,
    investigation_conclude_phase_one,
    input_class=PhaseOneInput,
    doc="Conclude Phase I with a signature (meaning 'concluded'): an assignable laboratory "
    "cause proposes the result's invalidation (a second person signs it); no assignable cause "
    "moves to Phase II.",
)
InvalidateResultView = investigation_command_view(
    ActionKey.INVALIDATE_RESULT,
    investigation_invalidate_result,
    input_class=SignedInput,
    output_class=InvalidationSerializer,
    doc="A second person (not the proposer, not the analyst) signs the proposed invalidation "
    "(meaning 'invalidated'; 21 CFR 610.1); the lot is re-evaluated and a retest allowed.",
)
AllowRetestView = investigation_command_view(
    ActionKey.ALLOW_RETEST,
    investigation_allow_retest,
    doc="Allow a retest in Phase II: by another analyst, within the method's budget fixed "
    "when the investigation opened.",
)
PhaseTwoView = investigation_command_view(
    ActionKey.PHASE_TWO,
    investigation_record_phase_two,
    input_class=PhaseTwoInput,
    output_class=EntrySerializer,
    doc="QA records the production investigation: which other lots were checked, and the "
    "findings (21 CFR 211.192).",
)
AttachmentsView = investigation_command_view(
    ActionKey.ATTACH,
    investigation_attach_file,
    input_class=AttachmentInput,
    output_class=AttachmentSerializer,
    fields=lambda data: {
        "file_name": data["file"].name,
        "media_type": data["file"].content_type or "",
        "content": attachment_read(data["file"]),
        "description": data["description"],
    },
    parsers=(MultiPartParser,),
    doc="Attach a raw-data file (multipart/form-data, the only endpoint that takes it; at "
    "most INVESTIGATION_ATTACHMENT_MAX_BYTES). Stored in the database, never replaced or "
    "removed; its SHA-256 is in the log and the audit trail (21 CFR 211.194(a)).",
)


@extend_schema(
    tags=["investigations"],
    responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
)
class AttachmentDownloadView(GenericAPIView):
    """The raw-data file's bytes as stored, its SHA-256 in ``X-Content-SHA256``."""

    permission_classes = [PersonWithRole]

    def get(self, request: Request, number: str, pk: int) -> FileResponse:
        return attachment_download(selectors.attachment_get(number=number, pk=pk))


ConcludeView = investigation_command_view(
    ActionKey.CONCLUDE,
    investigation_conclude,
    input_class=ConcludeInput,
    doc="QA concludes with one signature after the Phase II findings are recorded: "
    "`confirmed_oos` (a lot not yet released is rejected by that signature, 21 CFR "
    "211.165(f)), `not_confirmed` (the reason is the assignable laboratory cause; a second "
    "person invalidates the result) or `inconclusive` (QA decides with `reject_lot`, the "
    "reason its justification); `assessed` for a trend notice or deviation.",
)
