"""Every admin page renders, and GMP records cannot be deleted through any of them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

pytestmark = [pytest.mark.django_db]


@pytest.mark.requirement("21CFR11.10e")
def test_every_admin_changelist_renders_and_nothing_can_be_deleted(admin_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    request = client.get("/admin/").wsgi_request
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if model._meta.app_label in {"audit", "esign", "qc", "releases", "accounts"}:
            assert not model_admin.has_delete_permission(request), model
