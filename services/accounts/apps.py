from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "services.accounts"
    label = "accounts"
    verbose_name = "Accounts and machine clients"

    def ready(self) -> None:
        from services.accounts import receivers  # noqa: F401 - connects auth signals
