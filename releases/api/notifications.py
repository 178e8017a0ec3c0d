"""The caller's in-app notifications, and marking them read."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from releases import selectors
from releases.api.permissions import PersonWithRole
from releases.api.serializers import NotificationSerializer
from releases.models import Notification
from releases.services.notifications import notification_mark_read
from services.accounts.models import User
from services.api.filters import query_bool
from services.errors import NotFound

MARKED_READ = inline_serializer(
    "MarkedRead", {"marked_read": serializers.IntegerField(help_text="How many were marked.")}
)


@extend_schema(tags=["notifications"], parameters=[OpenApiParameter("unread", bool)])
class NotificationListView(ListAPIView):
    permission_classes = [PersonWithRole]
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        unread = bool(query_bool(self.request.query_params, "unread"))
        return selectors.notifications_for(user=cast(User, self.request.user), unread_only=unread)


@extend_schema(tags=["notifications"], request=None, responses={200: MARKED_READ})
class NotificationReadView(GenericAPIView):
    """Mark one notification read (or, at ``read-all/``, every unread one)."""

    permission_classes = [PersonWithRole]
    serializer_class = NotificationSerializer

    def post(self, request: Request, pk: int | None = None) -> Response:
        marked = notification_mark_read(user=cast(User, request.user), notification_id=pk)
        if pk is not None and not marked:
            exists = Notification.objects.filter(pk=pk, recipient=cast(User, request.user)).exists()
            if not exists:
                raise NotFound(f"no notification {pk} of yours", code="notification_not_found")
        return Response({"marked_read": marked})
