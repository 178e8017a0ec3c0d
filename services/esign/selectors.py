from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from services.esign.models import Signature


def signatures_for(record: Model) -> QuerySet[Signature]:
    return Signature.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=str(record.pk)
    ).order_by("signed_at", "pk")
