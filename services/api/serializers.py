"""Serializer pieces every app's API shares."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo is an error, not a silent default."""

    # The schema says so: additionalProperties false (services.api.schema.AutoSchema).
    refuses_unknown_fields = True

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, dict):
            unknown = sorted(set(initial) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail("unknown field", code="unknown_field")]
                        for name in unknown
                    }
                )
        return attrs
