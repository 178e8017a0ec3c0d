"""The signature manifest as the API shows it (21 CFR 11.50: printed name, date and
time, meaning), with whether the signed record still matches (11.70)."""

from __future__ import annotations

from rest_framework import serializers

from services.esign.models import Signature
from services.esign.services import signature_verify

MANIFEST_FIELDS = (
    "id",
    "printed_name",
    "username",
    "signer_role",
    "signed_at",
    "meaning",
    "meaning_display",
    "reason",
    "statement",
    "record_label",
    "record_digest",
    "intact",
)


class SignatureManifestSerializer(serializers.ModelSerializer):
    """What 21 CFR 11.50 requires: printed name, date and time, meaning."""

    meaning_display = serializers.CharField(source="get_meaning_display")
    intact = serializers.SerializerMethodField()

    class Meta:
        model = Signature
        fields: tuple[str, ...] = (*MANIFEST_FIELDS, "manifest_line")

    def get_intact(self, signature: Signature) -> bool:
        return signature_verify(signature).intact
