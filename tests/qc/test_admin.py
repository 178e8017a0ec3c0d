"""The QC admin: master data added and changed with an audit trail and a reason; no deletes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from qc import models as qc_models
from qc.models import Product
from services.audit.models import AuditEvent
from tests.qc.conftest import post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user: Any) -> Client:
    # As services.accounts.services.user_upsert makes administrators.
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    return client


PRODUCT_FORM = {
    "code": "EV-ADM-1",
    "name": "Admin-made product",
    "description": "",
    "process_fields": '{"isolation_method": {"type": "choice", "choices": ["SEC"]}}',
    "requires_qp_certification": "on",
    "shelf_life_days": "90",
}


@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.requirement("EU-GMP-Annex11-9")
def test_adding_and_changing_a_product_is_audited_with_old_and_new_values_and_a_reason(
    admin_client: Client,
) -> None:
    response = admin_client.post("/admin/qc/product/add/", PRODUCT_FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(code="EV-ADM-1")
    created = AuditEvent.objects.get(action="product.created")
    assert created.object_id == "EV-ADM-1" and created.actor_name.endswith("(admin)")
    assert created.new_values["name"] == "Admin-made product"
    assert created.old_values is None

    change = {**PRODUCT_FORM, "name": "Renamed product", "shelf_life_days": "120"}
    change.pop("code")
    url = f"/admin/qc/product/{product.pk}/change/"
    refused = admin_client.post(url, change)
    assert refused.status_code == 200, "a change without a reason is refused"
    assert Product.objects.get().name == "Admin-made product"

    response = admin_client.post(url, {**change, "change_reason": "label update CC-12"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="product.changed")
    assert event.old_values == {"name": "Admin-made product", "shelf_life_days": 90}
    assert event.new_values == {"name": "Renamed product", "shelf_life_days": 120}
    assert event.reason == "label update CC-12"


def test_a_bad_process_field_definition_or_unit_is_refused(admin_client: Client) -> None:
    bad = {**PRODUCT_FORM, "process_fields": '{"isolation_method": {"type": "colour"}}'}
    response = admin_client.post("/admin/qc/product/add/", bad)
    assert response.status_code == 200 and "type must be one of" in response.content.decode()
    method = {
        "code": "X-1",
        "name": "x",
        "attribute_class": "quantity",
        "technique": "NTA",
        "result_kind": "numeric",
        "canonical_unit": "furlongs",
        "allowed_values": "[]",
        "replicates_required": "1",
        "retest_budget": "1",
        "active": "on",
    }
    response = admin_client.post("/admin/qc/testmethod/add/", method)
    assert response.status_code == 200 and "not known" in response.content.decode()
    assert not qc_models.TestMethod.objects.filter(code="X-1").exists()
    assert not AuditEvent.objects.filter(action__endswith=".created").exists()


def admin_request(user: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_nothing_can_be_deleted_in_the_qc_admin(
    world: Any, admin_user: Any, admin_client: Client
) -> None:
    from django.contrib import admin

    request = admin_request(admin_user)
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == "qc":
            assert not model_admin.has_delete_permission(request), model
    response = admin_client.post(f"/admin/qc/product/{world.product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Product.objects.filter(pk=world.product.pk).exists()


@pytest.mark.requirement("ALCOA-original")
def test_results_are_view_only_in_the_admin(
    world: Any, lot: Any, mes_api: Any, admin_user: Any, admin_client: Client
) -> None:
    from django.contrib import admin

    from qc.models import Result

    body = {"results": [{"test": "NTA-CONC", "value": "2e11", "unit": "particles/mL"}]}
    post_json(mes_api, f"/api/v1/lots/{lot.lot_number}/results/", body)
    result = Result.objects.get()
    result_admin = admin.site._registry[Result]
    for check in ("has_add_permission", "has_change_permission", "has_delete_permission"):
        assert getattr(result_admin, check)(admin_request(admin_user)) is False
    page = admin_client.get(f"/admin/qc/result/{result.pk}/change/")
    assert page.status_code == 200 and "Save" not in page.content.decode()
    admin_client.post(f"/admin/qc/result/{result.pk}/change/", {"value_as_posted": "1"})
    assert Result.objects.get().value_as_posted == "2e11"


def test_a_test_methods_unit_is_locked_once_results_use_it(
    world: Any, lot: Any, mes_api: Any, admin_client: Client
) -> None:
    body = {"results": [{"test": "NTA-CONC", "value": "2e11", "unit": "particles/mL"}]}
    post_json(mes_api, f"/api/v1/lots/{lot.lot_number}/results/", body)
    page = admin_client.get(f"/admin/qc/testmethod/{world.conc.pk}/change/").content.decode()
    assert 'name="canonical_unit"' not in page
    assert (
        'name="canonical_unit"'
        in admin_client.get(f"/admin/qc/testmethod/{world.mycoplasma.pk}/change/").content.decode()
    )
