from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Lot release"

    def ready(self) -> None:
        # Imported here, not at the top: the subscribers import models, which Django
        # allows only once the app registry is ready (the AppConfig.ready idiom).
        from releases import models, policy, selectors
        from releases.services import evaluation_hooks
        from services.audit import records
        from services.audit import scopes as audit_scopes

        evaluation_hooks.subscribe()
        policy.install()
        audit_scopes.register_lot_trail(selectors.lot_trail_by_number)
        # 21 CFR 11.10(a): release records are bound to their creation events.
        for model in (
            models.Disposition,
            models.AuditTrailReview,
            models.ResultReview,
            models.RecallDecision,
            models.Certificate,
            models.CertificateCorrection,
            models.InvestigationEntry,
            models.InvestigationAttachment,
            models.ResultInvalidation,
        ):
            records.register(model)
        # An investigation moves through its phases; what it was opened as stays put.
        records.register(
            models.Investigation,
            mutable=(
                "phase",
                "conclusion",
                "closed_at",
                "retest_allowed_at",
                "retest_allowed_by",
                "capa_reference",
                "phase_two_recorded_at",
            ),
        )
