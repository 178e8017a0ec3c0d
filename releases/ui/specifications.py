"""The specification pages: versions per product, a version's lines in words, the
difference of two versions, editing a draft, approval with a signature, and the
impact preview (the same service as ``manage.py spec_impact`` and the API).

Who may write a draft and who approves come from ``releases.policy``
(``specification-author``, ``specification-approve``); the services check again and
refuse an edit of an approved version by code (``specification_not_draft``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from qc.models import Product, Specification, SpecificationLine, SpecificationStatus, TestMethod
from qc.selectors import (
    specification_compare,
    specification_line_words,
    specification_version,
    specification_versions,
)
from qc.services.impact import specification_impact
from qc.services.specifications import (
    criterion_types,
    specification_approval_statement,
    specification_approve,
    specification_line_add,
    specification_line_change,
    specification_line_remove,
    specification_new_draft,
)
from releases.policy import ACTIONS, ActionKey, may_take
from releases.ui.forms import SignatureForm
from releases.ui.refusals import Refusal
from releases.ui.views import _attempt, _not_allowed, _signed_words
from services.accounts.context import AuthContext
from services.accounts.models import Role, User
from services.errors import DomainError, NotFound
from services.permissions import has_role

# The impact preview reads every lot of the product: the same people as its API
# (``GET /api/v1/products/{code}/specifications/{version}/impact/``).
IMPACT_READERS = (Role.QA_OFFICER, Role.QUALIFIED_PERSON)
_TEXT = {"rows": 2}
# Limits the form shows as fields of their own; every other parameter is JSON.
_LIMITS = (("min", "minimum"), ("max", "maximum"))


class ObjectField(forms.JSONField):
    """A JSON object, or nothing: an empty box, never the word "null"."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class ReasonForm(forms.Form):
    """A draft edit: no signature (nothing is in force until approval), but a reason."""

    signs = False
    reason = forms.CharField(
        widget=forms.Textarea(attrs=_TEXT),
        max_length=4000,
        help_text="Why; recorded in the audit trail (EU GMP Annex 11 §9).",
    )

    def service_kwargs(self) -> dict[str, Any]:
        return {"reason": self.cleaned_data["reason"]}


class LineForm(ReasonForm):
    """A line's criterion: its limits as numbers, any other parameter as JSON."""

    name = forms.CharField(max_length=200, required=False, help_text="Blank: the test's name.")
    criterion_type = forms.ChoiceField(label="Criterion", choices=())
    minimum = forms.CharField(label="Lower limit", max_length=40, required=False)
    maximum = forms.CharField(label="Upper limit", max_length=40, required=False)
    params = ObjectField(
        label="Other parameters (JSON)",
        required=False,
        widget=forms.Textarea(attrs=_TEXT),
        help_text='e.g. {"requires_run": true}; the limits above take precedence.',
    )
    alert_minimum = forms.CharField(label="Alert lower limit", max_length=40, required=False)
    alert_maximum = forms.CharField(label="Alert upper limit", max_length=40, required=False)
    alert_params = ObjectField(
        label="Other alert parameters (JSON)",
        required=False,
        widget=forms.Textarea(attrs=_TEXT),
        help_text='e.g. {"tolerance_percent": 10}.',
    )
    decimals = forms.IntegerField(
        required=False, min_value=-30, max_value=15, help_text="Places the value is rounded to."
    )
    required = forms.BooleanField(required=False, initial=True, label="Required for release")
    field_order = [
        "test",
        "name",
        "criterion_type",
        "minimum",
        "maximum",
        "params",
        "alert_minimum",
        "alert_maximum",
        "alert_params",
        "decimals",
        "required",
        "reason",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["criterion_type"]
        field.choices = [(t, t.replace("_", " ")) for t in criterion_types()]  # type: ignore[attr-defined]

    @staticmethod
    def initial_of(line: SpecificationLine) -> dict[str, Any]:
        params, alert = dict(line.params), dict(line.alert_params or {})
        initial: dict[str, Any] = {
            "name": line.name,
            "criterion_type": line.criterion_type,
            "decimals": line.decimals,
            "required": line.required,
        }
        for key, name in _LIMITS:
            initial[name] = params.pop(key, "")
            initial[f"alert_{name}"] = alert.pop(key, "")
        initial["params"] = params or None
        initial["alert_params"] = alert or None
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("params", "alert_params"):
            if data.get(name) is not None and not isinstance(data[name], dict):
                self.add_error(name, "must be a JSON object")
        return data

    @staticmethod
    def _merged(rest: Any, limits: dict[str, str]) -> dict[str, Any]:
        merged = dict(rest or {})
        merged.update({key: value.strip() for key, value in limits.items() if value.strip()})
        return merged

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        alert = self._merged(
            data["alert_params"], {key: data[f"alert_{name}"] for key, name in _LIMITS}
        )
        return {
            **super().service_kwargs(),
            "name": data["name"],
            "criterion_type": data["criterion_type"],
            "params": self._merged(data["params"], {key: data[name] for key, name in _LIMITS}),
            "alert_params": alert or None,
            "decimals": data["decimals"],
            "required": data["required"],
        }


class AddLineForm(LineForm):
    test = forms.ChoiceField(label="Test", choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tests = TestMethod.objects.filter(active=True).order_by("code")
        field = self.fields["test"]
        field.choices = [(t.code, f"{t.code} — {t.name}") for t in tests]  # type: ignore[attr-defined]

    def service_kwargs(self) -> dict[str, Any]:
        return {**super().service_kwargs(), "test_code": self.cleaned_data["test"]}


class ApproveForm(SignatureForm):
    reason_label = "Reason for approval"
    reason_help = "Why this version is approved; printed on the signature manifest."


# --- the pages ------------------------------------------------------------------------


@login_required
def specification_list(request: HttpRequest) -> HttpResponse:
    products = [
        (product, list(specification_versions(product=product)))
        for product in Product.objects.order_by("code")
    ]
    return render(request, "releases/specification_list.html", {"products": products})


@dataclass
class Forms:
    """The forms a version's page offers; a refused one comes back bound, with its key."""

    refusal: Refusal | None = None
    bound_key: str = ""
    bound: forms.Form | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, make: Any) -> forms.Form:
        return self.bound if self.bound is not None and key == self.bound_key else make()


def _spec_or_404(product_code: str, version: int) -> Specification:
    try:
        return specification_version(product_code=product_code, version=version)
    except NotFound:
        raise Http404(f"{product_code} has no specification version {version}") from None


def _line_row(line: SpecificationLine, given: Forms, editable: bool) -> dict[str, Any]:
    """A line in words and, on a draft for its author, its change and remove forms."""
    row: dict[str, Any] = {"line": line, "words": specification_line_words(line)}
    if editable:
        change, remove = f"line-{line.pk}", f"remove-{line.pk}"
        row["change"] = given.get(
            change, lambda: LineForm(prefix=change, initial=LineForm.initial_of(line))
        )
        row["remove"] = given.get(remove, lambda: ReasonForm(prefix=remove))
    return row


def _render_version(
    request: HttpRequest, spec: Specification, given: Forms | None = None, status: int = 200
) -> HttpResponse:
    given = given or Forms()
    user = cast(User, request.user)
    lines = sorted(spec.lines.all(), key=lambda line: line.position)
    draft = spec.status == SpecificationStatus.DRAFT
    author = may_take(ActionKey.SPECIFICATION_AUTHOR, user)
    editable = draft and may_take(ActionKey.SPECIFICATION_AUTHOR, user)
    rows = [_line_row(line, given, editable) for line in lines]
    approver = draft and may_take(ActionKey.SPECIFICATION_APPROVE, user)
    others = [v for v in specification_versions(product=spec.product) if v.pk != spec.pk]
    context = {
        "spec": spec,
        "rows": rows,
        "draft": draft,
        "refusal": given.refusal,
        "add_form": given.get("add", lambda: AddLineForm(prefix="add")) if editable else None,
        "approve_form": given.get("approve", lambda: ApproveForm(prefix="approve"))
        if approver
        else None,
        "new_draft_form": given.get("new-draft", lambda: ReasonForm(prefix="new-draft"))
        if author and not draft and spec.status != SpecificationStatus.WITHDRAWN
        else None,
        "approve": ACTIONS[ActionKey.SPECIFICATION_APPROVE],
        "statement": specification_approval_statement(specification=spec) if approver else "",
        "compare_with": spec.based_on or (others[0] if others else None),
        "may_preview": has_role(user, *IMPACT_READERS),
    }
    return render(request, "releases/specification_detail.html", context, status=status)


@login_required
def specification_detail(request: HttpRequest, product_code: str, version: int) -> HttpResponse:
    return _render_version(request, _spec_or_404(product_code, version))


def _version_number(raw: str | None, default: int | None) -> int | None:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


@login_required
def specification_compare_page(request: HttpRequest, product_code: str) -> HttpResponse:
    """``?old=1&new=2``; by default the effective version against the newest other one."""
    product = get_object_or_404(Product, code=product_code)
    versions = list(specification_versions(product=product))
    if len(versions) < 2:
        raise Http404(f"{product_code} has fewer than two specification versions")
    effective = next((v for v in versions if v.status == SpecificationStatus.EFFECTIVE), None)
    default_old = (effective or versions[1]).version
    default_new = next(v.version for v in versions if v.version != default_old)
    old_number = _version_number(request.GET.get("old"), default_old)
    new_number = _version_number(request.GET.get("new"), default_new)
    old = _spec_or_404(product_code, old_number or default_old)
    new = _spec_or_404(product_code, new_number or default_new)
    comparison = specification_compare(old=old, new=new)
    return render(
        request,
        "releases/specification_compare.html",
        {"product": product, "versions": versions, "comparison": comparison},
    )


@login_required
def specification_impact_page(
    request: HttpRequest, product_code: str, version: int
) -> HttpResponse:
    """Which lots would change verdict under this version (nothing stored)."""
    if not has_role(request.user, *IMPACT_READERS):
        raise PermissionDenied("the impact preview is for QA officers and Qualified Persons")
    spec = _spec_or_404(product_code, version)
    refusal, rows = None, []
    try:
        rows = list(specification_impact(specification=spec))
    except DomainError as exc:
        refusal = Refusal(exc.headline, exc.reasons, codes=exc.codes)
    changes = [row for row in rows if row.changes]
    return render(
        request,
        "releases/specification_impact.html",
        {
            "spec": spec,
            "refusal": refusal,
            "evaluated": len(rows),
            "changes": changes,
            "unchanged": len(rows) - len(changes),
        },
        status=409 if refusal is not None else 200,
    )


# --- the draft's edits and the approval ---------------------------------------------


def _submit(
    request: HttpRequest,
    spec: Specification,
    *,
    key: ActionKey,
    form_key: str,
    form: forms.Form,
    call: Any,
    done: str,
    anchor: str = "lines",
) -> HttpResponse:
    """Check the role, validate, run the service; on refusal the page again, form kept."""
    user = cast(User, request.user)
    if not may_take(key, user):
        denied = _not_allowed(user, key, None, ACTIONS[key].title)
        return _render_version(request, spec, Forms(refusal=denied), status=403)
    if not form.is_valid():
        invalid = Refusal("Please correct the form", [])
        return _render_version(request, spec, Forms(invalid, form_key, form), status=400)
    record, refusal, status = _attempt(lambda: call(form), form, user)
    if refusal is not None:
        return _render_version(request, spec, Forms(refusal, form_key, form), status=status)
    target = record if isinstance(record, Specification) else spec
    messages.success(request, done + _signed_words(_SignedVersion(target)))
    return redirect(
        reverse("specification-detail", args=[target.product.code, target.version]) + f"#{anchor}"
    )


def _line_id(spec: Specification, line_id: int) -> int:
    if not any(line.pk == line_id for line in spec.lines.all()):
        raise Http404(f"specification v{spec.version} has no line {line_id}")
    return line_id


@login_required
@require_POST
def specification_line_add_view(
    request: HttpRequest, product_code: str, version: int
) -> HttpResponse:
    spec = _spec_or_404(product_code, version)
    user = cast(User, request.user)
    return _submit(
        request,
        spec,
        key=ActionKey.SPECIFICATION_AUTHOR,
        form_key="add",
        form=AddLineForm(request.POST, prefix="add"),
        call=lambda form: specification_line_add(
            specification_id=spec.pk, by=user, **form.service_kwargs()
        ),
        done=f"Line added to draft v{spec.version}.",
    )


@login_required
@require_POST
def specification_line_change_view(
    request: HttpRequest, product_code: str, version: int, line_id: int
) -> HttpResponse:
    spec = _spec_or_404(product_code, version)
    user = cast(User, request.user)
    line = _line_id(spec, line_id)
    return _submit(
        request,
        spec,
        key=ActionKey.SPECIFICATION_AUTHOR,
        form_key=f"line-{line}",
        form=LineForm(request.POST, prefix=f"line-{line}"),
        call=lambda form: specification_line_change(
            specification_id=spec.pk, line_id=line, by=user, **form.service_kwargs()
        ),
        done=f"Line changed in draft v{spec.version}.",
    )


@login_required
@require_POST
def specification_line_remove_view(
    request: HttpRequest, product_code: str, version: int, line_id: int
) -> HttpResponse:
    spec = _spec_or_404(product_code, version)
    user = cast(User, request.user)
    line = _line_id(spec, line_id)
    return _submit(
        request,
        spec,
        key=ActionKey.SPECIFICATION_AUTHOR,
        form_key=f"remove-{line}",
        form=ReasonForm(request.POST, prefix=f"remove-{line}"),
        call=lambda form: specification_line_remove(
            specification_id=spec.pk, line_id=line, by=user, **form.service_kwargs()
        ),
        done=f"Line removed from draft v{spec.version}.",
    )


@login_required
@require_POST
def specification_new_draft_view(
    request: HttpRequest, product_code: str, version: int
) -> HttpResponse:
    spec = _spec_or_404(product_code, version)
    user = cast(User, request.user)
    return _submit(
        request,
        spec,
        key=ActionKey.SPECIFICATION_AUTHOR,
        form_key="new-draft",
        form=ReasonForm(request.POST, prefix="new-draft"),
        call=lambda form: specification_new_draft(
            specification_id=spec.pk, by=user, **form.service_kwargs()
        ),
        done=f"New draft started as a copy of v{spec.version}.",
        anchor="top",
    )


@login_required
@require_POST
def specification_approve_view(
    request: HttpRequest, product_code: str, version: int
) -> HttpResponse:
    spec = _spec_or_404(product_code, version)
    auth = AuthContext.from_request(request)
    return _submit(
        request,
        spec,
        key=ActionKey.SPECIFICATION_APPROVE,
        form_key="approve",
        form=ApproveForm(request.POST, prefix="approve"),
        call=lambda form: _approved(spec, auth, form),
        done=f"Specification v{spec.version} of {spec.product.code} approved: it is effective.",
        anchor="top",
    )


@dataclass(frozen=True)
class _SignedVersion:
    """A version as the success message reads it: its approval signature, if any."""

    specification: Specification

    @property
    def signature(self) -> Any:
        return self.specification.approval_signature


def _approved(spec: Specification, auth: AuthContext, form: forms.Form) -> Specification:
    kwargs = form.service_kwargs()  # type: ignore[attr-defined]
    return specification_approve(specification_id=spec.pk, auth=auth, **kwargs)
