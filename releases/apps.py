from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Lot release"

    def ready(self) -> None:
        # Imported here, not at the top: the subscribers import models, which Django
        # allows only once the app registry is ready (the AppConfig.ready idiom).
        from releases import policy
        from releases.services import evaluation_hooks

        evaluation_hooks.subscribe()
        policy.install()
