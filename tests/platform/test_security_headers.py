"""A strict Content-Security-Policy on every page; no template needs 'unsafe-inline'."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from releases.models import Notification
from services.accounts.models import User
from tests.pages import PAGES, page_path

BASE_DIR = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [BASE_DIR / "services" / "templates", BASE_DIR / "releases" / "templates"]
# Rendered to PDF by WeasyPrint, never served as a page.
NOT_PAGES = {
    "releases/documents/certificate.html",
    "exports/table.html",
    "exports/audit.html",
    "exports/_document.html",
}
# Named routes that are not pages: POST-only commands and file downloads.
NOT_HTML = {"lot-action", "investigation-action", "notification-read", "notification-read-all"}
NOT_HTML |= {"trend-baseline-sign"}
NOT_HTML |= {"lot-certificate", "logout", "password-set", "admin-login", "health-live"}
NOT_HTML |= {"health-ready", "prometheus-metrics", "schema", "audit-chain-verify"}
NOT_HTML |= {f"specification-{command}" for command in ("line-add", "line-change", "line-remove")}
NOT_HTML |= {"specification-new-draft", "specification-approve", "investigation-attachment-file"}
NOT_HTML |= {"notification-open"}  # marks the notification read and redirects to its work
# A verification run's page needs a run id; it extends the same base as /audit/.
NOT_HTML |= {"audit-chain-run"}


def policy(response: Any) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.wsgi_request.path}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(response: Any) -> None:
    directives = policy(response)
    for name in ("default-src", "script-src", "style-src"):
        assert directives[name] == ["'self'"], (response.wsgi_request.path, name, directives)
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


def named_routes(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in {"admin", "api"}:
                continue
            names |= named_routes(pattern, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


@pytest.mark.django_db(transaction=True)
def test_every_html_page_carries_a_strict_content_security_policy(evaluated_demo: None) -> None:
    clients = {"": Client()}
    for persona in {page.persona for page in PAGES} - {""}:
        clients[persona] = Client()
        clients[persona].force_login(User.objects.get(username=persona))
    auditor = clients["auditor"]
    admin_client = Client()
    admin_client.force_login(User.objects.get(username="admin"))
    Notification.objects.create(
        recipient=User.objects.get(username="qa"), kind="oos", text="x", created_at=timezone.now()
    )

    uncovered = named_routes() - {page.route for page in PAGES} - NOT_HTML - {"api-redoc"}
    assert not uncovered, f"pages without a CSP check (add them to tests/pages.py): {uncovered}"

    for page in PAGES:
        url = page_path(page)
        response = clients[page.persona].get(url)
        assert response.status_code == page.status, (page, url, response.status_code)
        assert response["Content-Type"].startswith("text/html"), url
        assert_strict(response)

    # The error pages, and the admin.
    assert_strict(Client().post("/accounts/login/", {"username": "x\x00", "password": "y"}))
    assert_strict(admin_client.get("/admin/"))
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert_strict(admin_client.get(url))

    # Only the Redoc page relaxes styles (it injects them at run time), nothing else.
    redoc = policy(auditor.get(reverse("api-redoc")))
    assert "'unsafe-inline'" in redoc["style-src"]
    assert redoc["script-src"] == ["'self'"]


def test_templates_hold_no_inline_script_handler_or_style() -> None:
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
    style = re.compile(r"\sstyle\s*=|<style", re.IGNORECASE)
    comments = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.DOTALL)
    found = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            name = path.relative_to(folder).as_posix()
            if name in NOT_PAGES:
                continue
            text = comments.sub("", path.read_text(encoding="utf-8"))
            for pattern in (inline_script, handler, style):
                found += [f"{name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not found, found
