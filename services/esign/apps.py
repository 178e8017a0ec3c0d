from django.apps import AppConfig


class EsignConfig(AppConfig):
    name = "services.esign"
    label = "esign"
    verbose_name = "Electronic signatures"
