from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "services.api"
    label = "api"
    verbose_name = "API platform"

    def ready(self) -> None:
        from services.api import schema  # noqa: F401 - registers the OpenAPI extension
