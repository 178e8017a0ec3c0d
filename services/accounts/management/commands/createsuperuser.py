"""Django's ``createsuperuser``, audited: the first administrator is in the trail too.

The operator types the new administrator's own password (it is their account).
The account gets the administrator role (the role is the one authority), and its
creation is written to the audit trail in the same transaction.
"""

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from services.accounts.models import Role, User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record


class Command(createsuperuser.Command):
    help = "Create an administrator (role administrator; audited)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            before = set(User.objects.values_list("pk", flat=True))
            super().handle(*args, **options)
            for user in User.objects.exclude(pk__in=before).order_by("pk"):
                user.role = Role.ADMINISTRATOR
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["role", "is_staff", "is_superuser"])
                audit_record(
                    actor=Actor.system("manage.py createsuperuser"),
                    action=AuditAction.USER_CREATED,
                    object_type="user",
                    object_id=user.pk,
                    new_values={
                        "username": user.username,
                        "role": Role.ADMINISTRATOR,
                        "email": user.email,
                        "is_active": user.is_active,
                        "password": "(set by its owner)",
                    },
                    reason="created with manage.py createsuperuser",
                )
