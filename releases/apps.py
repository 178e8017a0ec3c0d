from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Lot release"

    def ready(self) -> None:
        # Imported here, not at the top: the subscribers import models, which Django
        # allows only once the app registry is ready (the AppConfig.ready idiom).
        from releases import policy, selectors
        from releases.services import evaluation_hooks
        from services.audit import scopes as audit_scopes

        evaluation_hooks.subscribe()
        policy.install()
        audit_scopes.register_lot_trail(selectors.lot_trail_by_number)
