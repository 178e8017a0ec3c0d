from django.apps import AppConfig


class EsignConfig(AppConfig):
    name = "services.esign"
    label = "esign"
    verbose_name = "Electronic signatures"

    def ready(self) -> None:
        from services.audit import records
        from services.esign.models import Signature

        # 21 CFR 11.70: a signature stays linked to its record, and bound to the chain.
        records.register(Signature)
