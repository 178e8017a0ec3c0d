"""The one command-view helper: every signed or recorded action of the policy table.

``command_view(ActionKey.APPROVE, lot_approve, ...)`` builds ``POST .../approve/``:
the permission admits the action's roles (``releases.policy``), the input is
validated strictly, the optional ``meaning`` must be the action's, and the service
runs with an :class:`AuthContext` built here, at the HTTP edge.  Refusals are
domain errors, turned into the one error shape by the API's exception handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from releases.api.permissions import PolicyPermission
from releases.policy import ACTIONS, ActionKey
from services.accounts.context import AuthContext
from services.errors import InvalidInput


def validated(input_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = input_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CommandView(GenericAPIView):
    """One action of the policy table; ``command_view`` fills in the class attributes."""

    key: ClassVar[ActionKey]
    input_class: ClassVar[type[serializers.Serializer]]
    output_class: ClassVar[type[serializers.Serializer]]
    service: ClassVar[Callable[..., Any]]
    fields: ClassVar[Callable[[dict[str, Any]], dict[str, Any]] | None] = None
    present: ClassVar[Callable[[Any], Any] | None] = None
    subject: ClassVar[str] = "lot_number"
    success: ClassVar[int] = status.HTTP_201_CREATED

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.input_class

    def post(self, request: Request, **path: str) -> Response:
        data = validated(self.input_class, request)
        meaning = data.pop("meaning", None)
        action = ACTIONS[self.key]
        if meaning is not None and meaning != action.meaning:
            raise InvalidInput.single(
                "meaning",
                f"this action signs with the meaning {action.meaning or 'none'}",
                code="wrong_meaning",
            )
        fields = type(self).fields
        kwargs = fields(data) if fields is not None else data
        record = type(self).service(
            **{self.subject: path[self.subject]},
            auth=AuthContext.from_request(request),
            **kwargs,
        )
        present = type(self).present
        if present is not None:
            record = present(record)
        return Response(self.output_class(record).data, status=self.success)


def command_view(
    key: ActionKey,
    service: Callable[..., Any],
    *,
    input_class: type[serializers.Serializer],
    output_class: type[serializers.Serializer],
    fields: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    present: Callable[[Any], Any] | None = None,
    subject: str = "lot_number",
    tag: str = "release",
    success: int = status.HTTP_201_CREATED,
    doc: str = "",
    parsers: tuple[type[BaseParser], ...] = (),
) -> type[CommandView]:
    """Build the view of policy action ``key``: roles, input, service, output, schema."""
    action = ACTIONS[key]
    description = doc or action.title
    view = type(
        f"{key.name.title().replace('_', '')}View",
        (CommandView,),
        {
            "key": key,
            "permission_classes": [PolicyPermission.of(key)],
            "input_class": input_class,
            "output_class": output_class,
            "service": staticmethod(service),
            "fields": staticmethod(fields) if fields else None,
            "present": staticmethod(present) if present else None,
            "subject": subject,
            "success": success,
            "__doc__": description,
            # The API is JSON only; an endpoint that takes files says so here.
            **({"parser_classes": list(parsers)} if parsers else {}),
        },
    )
    decorated = extend_schema(
        request=input_class,
        responses={success: output_class},
        tags=[tag],
        description=f"{description}\n\nPolicy action `{key.value}`: who may take it, "
        "when, and the statement the signer confirms are returned by the lot's "
        "`release-checklist/`.",
    )(view)
    return cast(type[CommandView], decorated)
