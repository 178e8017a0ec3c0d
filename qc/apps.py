from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "qc"
    verbose_name = "Quality control"

    def ready(self) -> None:
        # Imported here, not at the top: models exist only once the registry is ready.
        from qc import models
        from services.audit import records

        # 21 CFR 11.10(a): QC's original records are bound to their creation events.
        for model in (
            models.AssayRun,
            models.RunControl,
            models.Result,
            models.Evaluation,
            models.ControlBaseline,
        ):
            records.register(model)
        # A draft's lines are edited (never judged against yet): each edit re-binds them.
        records.register(models.SpecificationLine, revisable=True)
