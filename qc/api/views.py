"""QC endpoints under /api/v1/: short read viewsets and explicit command endpoints.

Reads are a queryset (``qc.selectors``), a serializer and a filterset.  Writes
check the request's shape and call one service inside ``idempotent`` (the
``Idempotency-Key`` rules); a service's refusal (``services.errors``) becomes its
400/403/404/409 in the API's one exception handler (``services.api.errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from qc import selectors
from qc.api import filters
from qc.api.permissions import (
    LOT_REBINDERS,
    MACHINES_AND_ANALYSTS,
    MACHINES_ONLY,
    SPECIFICATION_APPROVERS,
    SPECIFICATION_AUTHORS,
    QcAccess,
)
from qc.api.serializers import (
    AssayRunCreateSerializer,
    AssayRunSerializer,
    InstrumentSerializer,
    LotCreateSerializer,
    LotDetailSerializer,
    LotSerializer,
    ProductSerializer,
    ReasonInputSerializer,
    RebindInputSerializer,
    ReferenceMaterialSerializer,
    ResultSerializer,
    ResultsInputSerializer,
    ResultsRecordedSerializer,
    SignInputSerializer,
    SpecificationDraftInputSerializer,
    SpecificationLineInputSerializer,
    SpecificationLineSerializer,
    SpecificationSerializer,
    TestMethodSerializer,
    decimal_text,
)
from qc.services.common import Principal
from qc.services.ingestion import ResultsReceipt, results_record
from qc.services.lots import lot_create, lot_rebind_specification
from qc.services.runs import assay_run_record
from qc.services.specifications import (
    specification_approve,
    specification_create_draft,
    specification_line_add,
    specification_new_draft,
    specification_withdraw,
)
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.api.idempotency import HEADER, idempotent
from services.api.pagination import SequencePagination
from services.api.parsers import ExactJSONParser
from services.errors import InvalidInput, NotFound, lot_not_found

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Required from machine clients on every POST (1-255 printable ASCII). "
    "A retry with the same key and body returns the first answer; another body is 422; "
    "a retry while the first is still running is 409.",
)
ERRORS = {
    400: OpenApiResponse(description="Invalid input: every problem by index and field."),
    403: OpenApiResponse(description="Not allowed for this role or machine client."),
    404: OpenApiResponse(description="Unknown record."),
    409: OpenApiResponse(description="Conflicts with the current state (duplicate, in flight)."),
    413: OpenApiResponse(description="Body larger than API_MAX_BODY_BYTES."),
    422: OpenApiResponse(description="Idempotency-Key reused with another body."),
}
CODE_IN_PATH = r"[^/]+"


def specification_id(pk: str) -> int:
    """The id in ``specifications/<id>/...``: anything but a whole number names nothing."""
    if not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        raise NotFound(
            f"specification {pk[:40]} does not exist",
            code="specification_not_found",
            field="specification",
        )
    return int(pk)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class QcViewMixin(GenericAPIView):
    """Permission by method: reads for every role and machine client, writes per action."""

    permission_classes = [QcAccess]
    action_writers: dict[str, Iterable[str]] = {}

    @property
    def writers(self) -> tuple[str, ...]:
        return tuple(self.action_writers.get(getattr(self, "action", None) or "", ()))


def principal(request: Request) -> Principal:
    """The machine client or person behind a request (QcAccess admitted only these)."""
    return cast(Principal, request.user)


def person(request: Request) -> User:
    """The person behind a request; the services check the role again."""
    return cast(User, request.user)


def _command(request: Request, work: Callable[[], Response]) -> HttpResponseBase:
    """A write, under the idempotency rules."""
    return idempotent(request, work)


# ---------------------------------------------------------------------------
# Master data (read only; edited in the admin)
# ---------------------------------------------------------------------------


@extend_schema(tags=["master data"])
class ProductViewSet(QcViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.product_list()
    serializer_class = ProductSerializer
    filterset_class = filters.ProductFilter
    lookup_field = "code"
    lookup_value_regex = CODE_IN_PATH
    parser_classes = [ExactJSONParser]
    action_writers = {"specifications": SPECIFICATION_AUTHORS}

    @extend_schema(
        summary="The effective specification of a product",
        responses={200: SpecificationSerializer, 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def specification(self, request: Request, code: str) -> Response:
        product = self.get_object()
        spec = selectors.specification_effective(product=product)
        if spec is None:
            raise NotFound(
                f"product {product.code} has no effective specification",
                code="no_effective_specification",
            )
        return Response(SpecificationSerializer(spec).data)

    @extend_schema(
        methods=["GET"],
        summary="Every specification version of a product (history)",
        responses=SpecificationSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Create a draft version (QA); copy_from starts it from another version",
        request=SpecificationDraftInputSerializer,
        responses={201: SpecificationSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def specifications(self, request: Request, code: str) -> HttpResponseBase:
        product = self.get_object()
        if request.method == "GET":
            versions = selectors.specification_list().filter(product=product)
            page = self.paginate_queryset(versions)
            data = SpecificationSerializer(page if page is not None else versions, many=True).data
            return self.get_paginated_response(data) if page is not None else Response(data)

        def work() -> Response:
            data = validated(SpecificationDraftInputSerializer, request.data)
            if data["copy_from"] is not None:
                source = selectors.specification_list().filter(pk=data["copy_from"]).first()
                if source is None or source.product_id != product.pk:
                    raise InvalidInput.single(
                        "copy_from", "no such version of this product", code="unknown_version"
                    )
                spec = specification_new_draft(
                    specification_id=source.pk,
                    by=person(request),
                    reason=data["reason"],
                    title=data.get("title"),
                )
            else:
                spec = specification_create_draft(
                    product_code=product.code,
                    by=person(request),
                    reason=data["reason"],
                    title=data.get("title", ""),
                )
            return Response(SpecificationSerializer(spec).data, status=status.HTTP_201_CREATED)

        return _command(request, work)


@extend_schema(tags=["master data"])
class TestMethodViewSet(QcViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.test_method_list()
    serializer_class = TestMethodSerializer
    filterset_class = filters.TestMethodFilter
    lookup_field = "code"
    lookup_value_regex = CODE_IN_PATH


@extend_schema(tags=["master data"])
class InstrumentViewSet(QcViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.instrument_list()
    serializer_class = InstrumentSerializer
    filterset_class = filters.InstrumentFilter
    lookup_field = "code"
    lookup_value_regex = CODE_IN_PATH


@extend_schema(tags=["master data"])
class ReferenceMaterialViewSet(QcViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.reference_material_list()
    serializer_class = ReferenceMaterialSerializer
    filterset_class = filters.ReferenceMaterialFilter


# ---------------------------------------------------------------------------
# Specifications
# ---------------------------------------------------------------------------


@extend_schema(tags=["specifications"])
class SpecificationViewSet(QcViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.specification_list()
    serializer_class = SpecificationSerializer
    filterset_class = filters.SpecificationFilter
    parser_classes = [ExactJSONParser]
    action_writers = {
        "lines": SPECIFICATION_AUTHORS,
        "approve": SPECIFICATION_APPROVERS,
        "new_draft": SPECIFICATION_AUTHORS,
        "withdraw": SPECIFICATION_AUTHORS,
    }

    @extend_schema(
        summary="Add a line to a draft (QA); its criterion parameters are checked now",
        request=SpecificationLineInputSerializer,
        responses={201: SpecificationLineSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def lines(self, request: Request, pk: str) -> HttpResponseBase:
        def work() -> Response:
            data = validated(SpecificationLineInputSerializer, request.data)
            line = specification_line_add(
                specification_id=specification_id(pk),
                by=person(request),
                test_code=data["test"],
                criterion_type=data["criterion_type"],
                params=data["params"],
                name=data["name"],
                alert_params=data["alert_params"],
                decimals=data["decimals"],
                required=data["required"],
                position=data["position"],
            )
            return Response(SpecificationLineSerializer(line).data, status=status.HTTP_201_CREATED)

        return _command(request, work)

    @extend_schema(
        summary="Approve a draft with an electronic signature (QA; password re-entered)",
        description="The version becomes effective and frozen; the previous effective "
        "version is superseded.  Machine clients can never sign.",
        request=SignInputSerializer,
        responses={200: SpecificationSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request: Request, pk: str) -> Response:
        # Not under `idempotent`: the password check must run outside any transaction
        # (a failed attempt is committed and counts toward the lockout); a repeated
        # approval is refused anyway (409, no longer a draft).
        spec_id = specification_id(pk)
        data = validated(SignInputSerializer, request.data)
        spec = specification_approve(
            specification_id=spec_id,
            auth=AuthContext.from_request(request),
            password=data["password"],
            reason=data["reason"],
        )
        spec = selectors.specification_list().get(pk=spec.pk)
        return Response(SpecificationSerializer(spec).data)

    @extend_schema(
        summary="Start a new draft version as a copy of this one (QA)",
        request=ReasonInputSerializer,
        responses={201: SpecificationSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], url_path="new-draft", filterset_class=None)
    def new_draft(self, request: Request, pk: str) -> HttpResponseBase:
        def work() -> Response:
            data = validated(ReasonInputSerializer, request.data)
            spec = specification_new_draft(
                specification_id=specification_id(pk), by=person(request), reason=data["reason"]
            )
            return Response(SpecificationSerializer(spec).data, status=status.HTTP_201_CREATED)

        return _command(request, work)

    @extend_schema(
        summary="Withdraw a draft (QA); it stays on record",
        request=ReasonInputSerializer,
        responses={200: SpecificationSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def withdraw(self, request: Request, pk: str) -> HttpResponseBase:
        def work() -> Response:
            data = validated(ReasonInputSerializer, request.data)
            spec = specification_withdraw(
                specification_id=specification_id(pk), by=person(request), reason=data["reason"]
            )
            return Response(SpecificationSerializer(spec).data)

        return _command(request, work)


# ---------------------------------------------------------------------------
# Lots
# ---------------------------------------------------------------------------


@extend_schema(tags=["lots"])
class LotViewSet(
    QcViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = selectors.lot_list()
    serializer_class = LotSerializer
    filterset_class = filters.LotFilter
    lookup_field = "lot_number"
    lookup_value_regex = CODE_IN_PATH
    parser_classes = [ExactJSONParser]
    action_writers = {"create": MACHINES_ONLY, "rebind": LOT_REBINDERS}

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return LotDetailSerializer if self.action == "retrieve" else LotSerializer

    @extend_schema(
        summary="Register a lot (machine clients); bound to the effective specification",
        request=LotCreateSerializer,
        responses={201: LotDetailSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request: Request) -> HttpResponseBase:
        def work() -> Response:
            data = validated(LotCreateSerializer, request.data)
            lot = lot_create(
                lot_number=data["lot_number"],
                product_code=data["product"],
                manufactured_on=data["manufactured_on"],
                expires_on=data["expires_on"],
                site=data["site"],
                process=data["process"],
                by=principal(request),
            )
            lot = selectors.lot_list().get(pk=lot.pk)
            return Response(LotDetailSerializer(lot).data, status=status.HTTP_201_CREATED)

        return _command(request, work)

    @extend_schema(
        summary="Rebind a lot to another effective specification version (QA, with reason)",
        request=RebindInputSerializer,
        responses={200: LotDetailSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], url_path="specification", filterset_class=None)
    def rebind(self, request: Request, lot_number: str) -> HttpResponseBase:
        def work() -> Response:
            data = validated(RebindInputSerializer, request.data)
            lot = lot_rebind_specification(
                lot_number=lot_number,
                specification_id=data["specification"],
                by=person(request),
                reason=data["reason"],
            )
            lot = selectors.lot_list().get(pk=lot.pk)
            return Response(LotDetailSerializer(lot).data)

        return _command(request, work)


def _recorded_body(recorded: ResultsReceipt) -> dict[str, Any]:
    """The answer to a bulk post, built directly (a serializer per item costs ~30 µs)."""
    return {
        "lot": recorded.lot_number,
        "lot_status": recorded.lot_status,
        "data_version": recorded.data_version,
        "received_at": recorded.received_at.isoformat().replace("+00:00", "Z"),
        "count": len(recorded.results),
        "results": [
            {
                "index": r.index,
                "id": r.id,
                "test": r.test,
                "canonical_value": decimal_text(r.canonical_value),
                "canonical_unit": r.canonical_unit,
                "qualifier": r.qualifier,
                "text_value": r.text_value,
            }
            for r in recorded.results
        ],
    }


@extend_schema(tags=["results"])
class LotResultsView(QcViewMixin, mixins.ListModelMixin):
    """GET: a lot's results (append-only stream, cursor pages).  POST: record results."""

    serializer_class = ResultSerializer
    filterset_class = filters.ResultFilter
    pagination_class = SequencePagination
    parser_classes = [ExactJSONParser]

    @property
    def writers(self) -> tuple[str, ...]:
        return MACHINES_AND_ANALYSTS

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return selectors.result_list().none()
        lot = selectors.lot_by_number(lot_number=self.kwargs["lot_number"])
        if lot is None:
            raise lot_not_found(self.kwargs["lot_number"])
        return selectors.result_list().filter(lot=lot)

    @extend_schema(summary="The results of a lot, oldest first (superseded ones included)")
    def get(self, request: Request, lot_number: str) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Record results of a lot (machine clients, QC analysts): all or none",
        description="Up to RESULTS_PER_REQUEST_LIMIT (5,000) results per request, stored "
        "atomically.  Values are kept as posted and converted to the test's canonical "
        "unit.  A correction or retest is a new result with `supersedes` and a reason.",
        request=ResultsInputSerializer,
        responses={201: ResultsRecordedSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request, lot_number: str) -> HttpResponseBase:
        def work() -> Response:
            body = request.data
            if not isinstance(body, dict):
                raise InvalidInput.single(
                    None, 'the body must be an object: {"results": [...]}', code="not_an_object"
                )
            unknown = sorted(set(body) - {"results"})
            if unknown:
                raise InvalidInput.single(unknown[0], "unknown field", code="unknown_field")
            recorded = results_record(
                lot_number=lot_number, items=body.get("results"), by=principal(request)
            )
            return Response(_recorded_body(recorded), status=status.HTTP_201_CREATED)

        return _command(request, work)


# ---------------------------------------------------------------------------
# Assay runs and results
# ---------------------------------------------------------------------------


@extend_schema(tags=["assay runs"])
class AssayRunViewSet(
    QcViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = selectors.assay_run_list()
    serializer_class = AssayRunSerializer
    filterset_class = filters.AssayRunFilter
    lookup_field = "external_run_id"
    lookup_value_regex = CODE_IN_PATH
    parser_classes = [ExactJSONParser]
    action_writers = {"create": MACHINES_ONLY}

    @extend_schema(
        summary="Record an assay run with its reference-material controls (machine clients)",
        request=AssayRunCreateSerializer,
        responses={201: AssayRunSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request: Request) -> HttpResponseBase:
        def work() -> Response:
            data = validated(AssayRunCreateSerializer, request.data)
            run = assay_run_record(
                external_run_id=data["external_run_id"],
                method_code=data["method"],
                instrument_code=data["instrument"],
                analyst=data["analyst"],
                started_at=data["started_at"],
                ended_at=data["ended_at"],
                controls=data["controls"],
                by=principal(request),
            )
            run = selectors.assay_run_list().get(pk=run.pk)
            return Response(AssayRunSerializer(run).data, status=status.HTTP_201_CREATED)

        return _command(request, work)


@extend_schema(tags=["results"])
class ResultViewSet(QcViewMixin, viewsets.ReadOnlyModelViewSet):
    """Results of every lot (filter by lot, test, run).  Never updated nor deleted."""

    queryset = selectors.result_list()
    serializer_class = ResultSerializer
    filterset_class = filters.ResultFilter
    pagination_class = SequencePagination
