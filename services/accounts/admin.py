from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

from services.accounts.models import ApiClient, User


@admin.register(User)
class EvUserAdmin(UserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Role", {"fields": ("role",)}))  # type: ignore[misc]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Accounts that may have signed records are deactivated, never deleted.
        return False


@admin.register(ApiClient)
class ApiClientAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "description")  # type: ignore[assignment]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
